import json

import numpy as np
import pytest
from PIL import Image

from skinseg.data import DataValidationError, SkinLesionDataModule, find_isic, find_ph2
from skinseg.data.layouts import find_folder

from .conftest import make_isic, write_pair


def setup_dm(dataset, root, **kwargs):
    kwargs.setdefault("image_size", (32, 32))
    kwargs.setdefault("num_workers", 0)
    kwargs.setdefault("batch_size", 4)
    dm = SkinLesionDataModule(dataset, str(root), **kwargs)
    dm.setup()
    return dm


def test_ph2_layout_and_stratified_split(ph2_root, tmp_path):
    catalog = find_ph2(ph2_root)
    assert len(catalog.splits["train"]) == 12
    assert set(catalog.labels.values()) == {"common_nevus", "atypical_nevus", "melanoma"}
    out = tmp_path / "split.json"
    dm = setup_dm("ph2", ph2_root, val_fraction=0.25, test_fraction=0.25, split_output=str(out))
    sizes = {k: len(v) for k, v in dm.split.items()}
    assert sizes == {"train": 6, "val": 3, "test": 3}
    # stratified: each diagnosis appears once in val and once in test
    for name in ("val", "test"):
        assert sorted(catalog.labels[i] for i in dm.split[name]) == [
            "atypical_nevus",
            "common_nevus",
            "melanoma",
        ]
    saved = json.loads(out.read_text())
    assert saved["train"] == dm.split["train"] and saved["dataset"] == "ph2"
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["mask"].shape == (4, 1, 32, 32)
    assert set(batch["mask"].unique().tolist()) <= {0.0, 1.0}


def test_ph2_without_spreadsheet_gives_plain_split(ph2_root):
    (ph2_root / "PH2_dataset.xlsx").unlink()
    dm = setup_dm("ph2", ph2_root)
    assert dm.labels == {} and sum(len(v) for v in dm.split.values()) == 12


@pytest.mark.parametrize("edition", ["isic2016", "isic2017", "isic2018"])
def test_isic_layouts_use_official_splits(tmp_path, edition):
    counts = {"train": 8, "test": 3} if edition == "isic2016" else {"train": 8, "val": 2, "test": 3}
    root = make_isic(tmp_path / edition, edition, counts)
    dm = setup_dm(edition, root, val_fraction=0.25)
    assert len(dm.split["test"]) == 3
    if edition == "isic2016":  # no official val: carved from training
        assert len(dm.split["val"]) == 2 and len(dm.split["train"]) == 6
    else:
        assert len(dm.split["val"]) == 2 and len(dm.split["train"]) == 8


def test_isic_missing_splits_carved_and_superpixels_ignored(tmp_path):
    root = make_isic(tmp_path / "isic", "isic2017", {"train": 10})
    images = root / "ISIC-2017_Training_Data"
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(images / "ISIC_0000000_superpixels.png")
    dm = setup_dm("isic2017", root, val_fraction=0.2, test_fraction=0.3)
    assert {k: len(v) for k, v in dm.split.items()} == {"train": 5, "val": 2, "test": 3}
    assert all("superpixels" not in i for v in dm.split.values() for i in v)


def test_folder_layout(folder_root):
    dm = setup_dm("folder", folder_root, mask_suffix="_mask", val_fraction=0.2, test_fraction=0.2)
    assert sum(len(v) for v in dm.split.values()) == 10


@pytest.mark.parametrize("ext", ["bmp", "jpg", "tif", "png"])
def test_folder_any_image_format(tmp_path, ext):
    for i in range(4):
        write_pair(tmp_path / "images" / f"a{i}.{ext}", tmp_path / "masks" / f"a{i}.png", i)
    assert len(find_folder(tmp_path).splits["train"]) == 4


def test_synthetic_is_deterministic():
    a = SkinLesionDataModule("synthetic", num_synthetic=12, image_size=(32, 32), num_workers=0)
    b = SkinLesionDataModule("synthetic", num_synthetic=12, image_size=(32, 32), num_workers=0)
    a.setup()
    b.setup()
    assert a.split == b.split
    assert np.array_equal(a.datasets["train"].images[0], b.datasets["train"].images[0])


def test_split_file_roundtrip(ph2_root, tmp_path):
    out = tmp_path / "s.json"
    first = setup_dm("ph2", ph2_root, seed=1, split_output=str(out))
    again = setup_dm("ph2", ph2_root, seed=99, split_file=str(out))
    assert again.split == first.split


def test_split_file_with_unknown_ids(ph2_root, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": ["IMD002", "IMD999"], "val": [], "test": []}))
    with pytest.raises(ValueError, match="IMD999"):
        setup_dm("ph2", ph2_root, split_file=str(bad))


def test_same_seed_same_split_different_seed_differs(ph2_root):
    a = setup_dm("ph2", ph2_root, seed=5).split
    b = setup_dm("ph2", ph2_root, seed=5).split
    c = setup_dm("ph2", ph2_root, seed=6).split
    assert a == b and a != c


def test_kfold_folds_are_disjoint_and_cover(ph2_root):
    tests = []
    for fold in range(3):
        split = setup_dm("ph2", ph2_root, num_folds=3, fold=fold, val_fraction=0.25).split
        assert not set(split["train"]) & set(split["val"])
        assert not (set(split["train"]) | set(split["val"])) & set(split["test"])
        assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 12
        tests.append(set(split["test"]))
    assert all(not (tests[i] & tests[j]) for i in range(3) for j in range(i + 1, 3))
    assert set().union(*tests) == {f"IMD{i:03d}" for i in range(2, 14)}


def test_second_epoch_reads_no_file(ph2_root, monkeypatch):
    dm = setup_dm("ph2", ph2_root, augment=None)
    first = [b["image"].clone() for b in dm.train_dataloader()]

    def fail(*args, **kwargs):
        raise AssertionError("an image file was opened after setup")

    monkeypatch.setattr(Image, "open", fail)
    second = [b["image"] for b in dm.train_dataloader()]
    assert sum(len(b) for b in second) == sum(len(b) for b in first)


def test_disk_cache_is_used(ph2_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    setup_dm("ph2", ph2_root, cache_dir=str(cache))
    assert len(list(cache.glob("*.npz"))) == 12
    import skinseg.data.cache as cache_mod

    def fail(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(cache_mod, "read_image", fail)
    setup_dm("ph2", ph2_root, cache_dir=str(cache))


def test_rotate90_on_non_square_size_is_refused(ph2_root):
    import albumentations as A

    with pytest.raises(ValueError, match="square"):
        SkinLesionDataModule(
            "ph2", str(ph2_root), image_size=(32, 48), augment=A.Compose([A.RandomRotate90(p=1)])
        )


def test_wrong_arguments():
    with pytest.raises(ValueError, match="unknown dataset 'ph3'"):
        SkinLesionDataModule("ph3", "/x")
    with pytest.raises(ValueError, match="data.root is required"):
        SkinLesionDataModule("ph2")
    with pytest.raises(ValueError, match="batch_size"):
        SkinLesionDataModule("synthetic", batch_size=0)
    with pytest.raises(ValueError, match="val_fraction"):
        setup_dm("synthetic", None, val_fraction=1.5)


def test_isic_wrong_root_lists_expected_folders(tmp_path):
    (tmp_path / "something").mkdir()
    with pytest.raises(DataValidationError, match="ISIC-2017_Training_Data"):
        find_isic(tmp_path, "isic2017")


def test_cache_budget_memory_maps_or_refuses(ph2_root, tmp_path):
    with pytest.raises(ValueError, match="cache_budget_mb=0.01"):
        setup_dm("ph2", ph2_root, cache_budget_mb=0.01)
    dm = setup_dm("ph2", ph2_root, cache_budget_mb=0.01, cache_dir=str(tmp_path / "c"))
    assert isinstance(dm.datasets["train"].images[0], np.memmap)
    assert list((tmp_path / "c" / "mmap").glob("*_images.npy"))
    plain = setup_dm("ph2", ph2_root)
    assert np.array_equal(np.asarray(dm.datasets["val"].images[1]), plain.datasets["val"].images[1])
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 32, 32)


def test_train_cases_keeps_a_stratified_nested_subset(ph2_root, tmp_path):
    from skinseg.data.splits import subsample

    full = setup_dm("ph2", ph2_root, num_folds=3, fold=0, val_fraction=0.0)
    few = setup_dm("ph2", ph2_root, num_folds=3, fold=0, val_fraction=0.0, train_cases=4)
    fewer = setup_dm("ph2", ph2_root, num_folds=3, fold=0, val_fraction=0.0, train_cases=2)
    assert len(few.split["train"]) == 4 and len(fewer.split["train"]) == 2
    assert set(fewer.split["train"]) <= set(few.split["train"]) <= set(full.split["train"])
    assert few.split["test"] == full.split["test"]  # only training shrinks
    # Each diagnosis keeps its share (largest remainder).
    labels = {f"c{i}": ("a" if i < 6 else "b") for i in range(9)}
    chosen = subsample(sorted(labels), 3, seed=0, labels=labels)
    assert sorted(labels[c] for c in chosen) == ["a", "a", "b"]
    with pytest.raises(DataValidationError, match="train_cases=99, but the training split has"):
        setup_dm("ph2", ph2_root, train_cases=99)
    with pytest.raises(ValueError, match="train_cases must be a positive integer"):
        SkinLesionDataModule("ph2", str(ph2_root), train_cases=0)


def test_grouped_folds_keep_each_group_on_one_side(folder_root, tmp_path):
    # 10 cases, 4 patients of 4 / 3 / 2 / 1 images: every fold's test set holds whole patients
    patients = {f"case{i:02d}": p for i, p in enumerate("AAAABBBCCD")}
    table = tmp_path / "patients.csv"
    table.write_text("id,group\n" + "".join(f"{i},{p}\n" for i, p in patients.items()))
    tests = []
    for fold in range(3):
        dm = setup_dm("folder", folder_root, num_folds=3, fold=fold, groups=str(table))
        test_groups = {patients[i] for i in dm.split["test"]}
        rest = dm.split["train"] + dm.split["val"]
        assert test_groups.isdisjoint(patients[i] for i in rest)
        tests.append(set(dm.split["test"]))
    assert set().union(*tests) == set(patients) and sum(map(len, tests)) == 10
    # largest group first, each to the emptiest fold: A | B | C + D
    assert sorted(len(t) for t in tests) == [3, 3, 4]


def test_isic_id_blocks_and_fold_balance():
    from skinseg.data.groups import isic_id_block
    from skinseg.data.splits import group_folds, kfold_split

    assert isic_id_block("ISIC_0012345") == "12" and isic_id_block("IMD002") == "other"
    ids = [
        f"ISIC_00{b:02d}{n:03d}"
        for b, count in [(0, 9), (9, 5), (12, 4), (13, 2)]
        for n in range(count)
    ]
    groups = {i: isic_id_block(i) for i in ids}
    assert group_folds(ids, groups, 2, seed=0) == {"00": 0, "09": 1, "12": 1, "13": 0}
    split = kfold_split(ids, 2, 1, 0.2, seed=0, groups=groups)
    assert {groups[i] for i in split["test"]} == {"09", "12"}
    assert {groups[i] for i in split["train"] + split["val"]} == {"00", "13"}


def test_bad_groups_are_refused_by_name(folder_root, tmp_path):
    with pytest.raises(ValueError, match="set data.num_folds"):
        SkinLesionDataModule("folder", str(folder_root), groups="isic_id_block")
    with pytest.raises(DataValidationError, match="not a rule .*isic_id_block"):
        setup_dm("folder", folder_root, num_folds=2, groups="patient_id")
    partial = tmp_path / "partial.csv"
    partial.write_text("id,group\ncase00,A\n")
    with pytest.raises(DataValidationError, match=r"partial.csv has no group for 9 of 10"):
        setup_dm("folder", folder_root, num_folds=2, groups=str(partial))
    headless = tmp_path / "headless.csv"
    headless.write_text("case00,A\n")
    with pytest.raises(DataValidationError, match="'id' and 'group' columns"):
        setup_dm("folder", folder_root, num_folds=2, groups=str(headless))
    two = tmp_path / "two.csv"
    two.write_text("id,group\n" + "".join(f"case{i:02d},{'AB'[i % 2]}\n" for i in range(10)))
    with pytest.raises(DataValidationError, match="cannot make 3 folds of 2 groups"):
        setup_dm("folder", folder_root, num_folds=3, groups=str(two))


def test_isic2017_part3_labels_are_the_diagnoses_not_the_strata(tmp_path):
    root = make_isic(tmp_path / "isic", "isic2017", {"train": 6})
    (root / "ISIC-2017_Training_Part3_GroundTruth.csv").write_text(
        "image_id,melanoma,seborrheic_keratosis\n"
        + "".join(f"ISIC_{i:07d},{float(i % 3 == 0)},{float(i % 3 == 1)}\n" for i in range(6))
        + "ISIC_0999999,1.0,0.0\n"  # a row of an image not present
    )
    catalog = find_isic(root, "isic2017")
    assert catalog.diagnoses == {
        f"ISIC_{i:07d}": ("melanoma", "seborrheic_keratosis", "nevus")[i % 3] for i in range(6)
    }
    assert catalog.labels == {}  # splits are drawn as before: not stratified by class
    (root / "ISIC-2017_Training_Part3_GroundTruth.csv").write_text(
        "image_id,melanoma\nISIC_0000001,0.0\n"
    )
    assert find_isic(root, "isic2017").diagnoses == {"ISIC_0000001": "not_melanoma"}
    (root / "ISIC-2017_Training_Part3_GroundTruth.csv").write_text("image,class\n")
    with pytest.raises(DataValidationError, match="expected columns image_id, melanoma"):
        find_isic(root, "isic2017")


def make_ham(root, lesions="AABBCDDDEF", parts=False):
    """A HAM10000 folder: images (merged or in two parts), masks, metadata."""
    rows = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    for i, lesion in enumerate(lesions):
        sid = f"ISIC_{24306 + i:07d}"
        folder = f"HAM10000_images_part_{1 + i % 2}" if parts else "HAM10000_images"
        write_pair(
            root / folder / f"{sid}.jpg",
            root / "HAM10000_segmentations_lesion_tschandl" / f"{sid}_segmentation.png",
            i,
        )
        rows.append(f"HAM_{lesion},{sid},{'nv' if i % 2 else 'mel'},histo,50,male,back")
    (root / "HAM10000_metadata.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("parts", [False, True])
def test_ham10000_layout_with_dx_and_lesion_groups(tmp_path, parts):
    from skinseg.data.layouts import find_ham10000

    root = make_ham(tmp_path / "HAM10000", parts=parts)
    catalog = find_ham10000(root)
    ids = [s.id for s in catalog.all_samples()]
    assert len(ids) == 10 and ids == sorted(ids)
    assert catalog.diagnoses[ids[0]] == "mel" and catalog.diagnoses[ids[1]] == "nv"
    assert catalog.groups["lesion_id"][ids[0]] == "HAM_A"
    lesion = dict(zip(ids, "AABBCDDDEF", strict=True))
    for fold in range(3):
        dm = setup_dm("ham10000", root, num_folds=3, fold=fold, groups="lesion_id")
        rest = dm.split["train"] + dm.split["val"]
        assert {lesion[i] for i in dm.split["test"]}.isdisjoint(lesion[i] for i in rest)


def test_ham10000_problems_are_listed(tmp_path):
    from skinseg.data.layouts import find_ham10000

    root = make_ham(tmp_path / "HAM10000", parts=True)
    next((root / "HAM10000_images_part_2").iterdir()).unlink()
    with pytest.raises(DataValidationError, match=r"missing image \(1\)"):
        find_ham10000(root)
    with pytest.raises(DataValidationError, match="none of the image folders"):
        find_ham10000(tmp_path)
