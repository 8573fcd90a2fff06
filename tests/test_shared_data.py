"""Checks on the real datasets in ../shared/data; skipped where they are absent."""

import pytest

from skinseg.data import SkinLesionDataModule

from .conftest import SHARED_DATA

PH2 = SHARED_DATA / "PH2Dataset"
ISIC2017 = SHARED_DATA / "ISIC2017"


@pytest.mark.slow
@pytest.mark.skipif(not PH2.is_dir(), reason=f"PH2 not found at {PH2} (distributed on request)")
def test_ph2_sets_up_with_same_split_twice(tmp_path):
    splits = []
    for i in range(2):
        dm = SkinLesionDataModule(
            "ph2",
            str(PH2),
            image_size=(64, 64),
            num_workers=0,
            split_output=str(tmp_path / f"s{i}.json"),
        )
        dm.setup()
        splits.append((tmp_path / f"s{i}.json").read_text())
    assert splits[0] == splits[1]
    assert sum(len(v) for v in dm.split.values()) == 100


@pytest.mark.slow
@pytest.mark.skipif(not ISIC2017.is_dir(), reason=f"ISIC 2017 not found at {ISIC2017}")
def test_isic2017_sets_up(tmp_path):
    dm = SkinLesionDataModule(
        "isic2017",
        str(ISIC2017),
        image_size=(64, 64),
        num_workers=0,
        val_fraction=0.1,
        test_fraction=0.2,
    )
    dm.setup()
    assert {k: len(v) for k, v in dm.split.items()} == {"train": 1400, "val": 200, "test": 400}


HAM10000 = SHARED_DATA / "HAM10000"


@pytest.mark.slow
@pytest.mark.skipif(not HAM10000.is_dir(), reason=f"HAM10000 not found at {HAM10000}")
def test_ham10000_layout_reads_the_distribution():
    from skinseg.data.layouts import LAYOUTS

    catalog = LAYOUTS["ham10000"].catalog(HAM10000)
    assert len(catalog.all_samples()) == 10015
    assert len(set(catalog.groups["lesion_id"].values())) == 7470
    assert set(catalog.diagnoses.values()) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}


@pytest.mark.slow
@pytest.mark.skipif(not ISIC2017.is_dir(), reason=f"ISIC 2017 not found at {ISIC2017}")
def test_isic2017_diagnoses_leave_the_split_unstratified():
    from skinseg.data.layouts import LAYOUTS

    catalog = LAYOUTS["isic2017"].catalog(ISIC2017)
    assert len(catalog.diagnoses) == 2000 and catalog.labels == {}
    assert sum(d == "melanoma" for d in catalog.diagnoses.values()) == 374
