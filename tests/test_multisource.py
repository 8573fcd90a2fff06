"""Several datasets at once: each source's layout and split, weighted draws, per-source scores."""

import json
from collections import Counter

import pytest
from PIL import Image

from skinseg.data import MultiSourceDataModule
from skinseg.data.multisource import WeightedSourceSampler
from skinseg.data.synthetic import generate_sample
from skinseg.training.run import ConfigError, train

from .training_helpers import compose_config


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A plain-folder dataset of 10 image/mask files (another layout than the generated one)."""
    root = tmp_path_factory.mktemp("clinic")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for i in range(10):
        image, mask = generate_sample(i, seed=99, size=(40, 48))
        Image.fromarray(image).save(root / "images" / f"case{i}.png")
        Image.fromarray(mask * 255).save(root / "masks" / f"case{i}_mask.png")
    return root


def two_sources(clinic, tmp_path, **kwargs) -> MultiSourceDataModule:
    sources = {
        "gen": {"dataset": "synthetic", "num_synthetic": 20, "val_fraction": 0.2,
                "test_fraction": 0.0},
        "clinic": {"dataset": "folder", "root": str(clinic), "num_folds": 5, "fold": 1,
                   "val_fraction": 0.25},
    }  # fmt: skip
    dm = MultiSourceDataModule(
        sources, image_size=(32, 32), batch_size=4, num_workers=0,
        split_output=str(tmp_path / "split.json"), **kwargs,
    )  # fmt: skip
    dm.setup("fit")
    return dm


def test_each_source_keeps_its_own_split_and_the_split_file_says_so(clinic, tmp_path):
    dm = two_sources(clinic, tmp_path)
    assert dm.source_names == ["gen", "clinic"]
    split = json.loads((tmp_path / "split.json").read_text())
    assert split["sources"]["gen"]["dataset"] == "synthetic"
    assert split["sources"]["clinic"]["num_folds"] == 5
    # gen: 16 train / 4 val; clinic: fold 1 of 5 is its test (2), 25 % of the rest validates.
    assert [len(split["sources"]["gen"][s]) for s in ("train", "val", "test")] == [16, 4, 0]
    assert [len(split["sources"]["clinic"][s]) for s in ("train", "val", "test")] == [6, 2, 2]
    assert len(dm.split["train"]) == 22 and all("/" in i for i in dm.split["train"])
    assert {i.split("/")[0] for i in dm.split["test"]} == {"clinic"}
    # Items say where they come from; originals and sources resolve the prefixed ids.
    item = dm.datasets["val"][5]
    assert item["id"].startswith("clinic/") and item["source"] == 1
    sid, image, mask = next(dm.originals("test"))
    assert sid.startswith("clinic/") and image.shape == (40, 48, 3)
    assert dm.source(sid).image.parent.name == "images"


def test_training_draws_follow_the_weights(clinic, tmp_path):
    dm = two_sources(clinic, tmp_path, weights={"gen": 1, "clinic": 1}, epoch_size=30)
    assert dm.train_shares() == {"gen": 15, "clinic": 15}
    sampler = dm.train_dataloader().sampler
    draws = [i for i, _ in sampler]
    per_source = Counter(dm.datasets["train"].locate(i)[0] for i in draws)
    assert per_source == {0: 15, 1: 15}
    # The 6 clinic images are each drawn 2 or 3 times (15 draws), never some 0 and some 5.
    clinic_counts = Counter(i for i in draws if dm.datasets["train"].locate(i)[0] == 1)
    assert set(clinic_counts.values()) <= {2, 3} and len(clinic_counts) == 6
    sampler.set_epoch(1)
    assert [i for i, _ in sampler] != draws  # another epoch, another order
    sampler.set_epoch(0)
    assert [i for i, _ in sampler] == draws  # a pure function of (seed, epoch)
    # No weights: plain concatenation.
    assert two_sources(clinic, tmp_path).train_shares() == {"gen": 16, "clinic": 6}


def test_bad_sources_and_weights_name_what_is_wrong(clinic, tmp_path):
    with pytest.raises(ValueError, match="data.sources names no dataset"):
        MultiSourceDataModule({"a": {"dataset": None}})
    with pytest.raises(ValueError, match=r"data.weights names unknown sources \['isic'\]"):
        MultiSourceDataModule({"a": {"dataset": "synthetic"}}, weights={"isic": 1})
    with pytest.raises(ValueError, match="data.sources.a: .*set for all sources"):
        MultiSourceDataModule({"a": {"dataset": "synthetic", "image_size": [8, 8]}})
    with pytest.raises(ValueError, match="data.sources.b: data.root is required"):
        MultiSourceDataModule({"a": {"dataset": "synthetic"}, "b": {"dataset": "ph2"}})
    dm = MultiSourceDataModule(
        {"a": {"dataset": "synthetic", "num_synthetic": 4},
         "b": {"dataset": "folder", "root": str(tmp_path / "missing")}}, num_workers=0,
    )  # fmt: skip
    with pytest.raises(FileNotFoundError, match="data.sources.b: folder: root .*missing"):
        dm.setup("fit")
    with pytest.raises(ValueError, match="weights must be >= 0"):
        WeightedSourceSampler([3, 3], [0, 0], seed=0, num_samples=4)


def test_a_run_validates_per_source_and_in_total(clinic, tmp_path):
    overrides = [
        "data=multi",
        "~data.sources.isic2017",
        "~data.sources.ph2",
        "+data.sources.gen={dataset:synthetic,num_synthetic:12,val_fraction:0.25,test_fraction:0}",
        f"+data.sources.clinic={{dataset:folder,root:{clinic},val_fraction:0.2,test_fraction:0.2}}",
        "data.image_size=[32,32]",
        "data.batch_size=4",
        "data.num_workers=0",
        "model.base_width=4",
        "model.depth=2",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "logger=none",
        "calibration.full_resolution_test=true",
    ]
    metrics = train(compose_config(overrides, tmp_path / "run", False))
    assert metrics["status"] == "completed"
    last = metrics["history"][-1]
    for key in ("val/jaccard", "val_gen/jaccard", "val_clinic/jaccard"):
        assert 0.0 <= last[key] <= 1.0, key
    # The run's full-resolution test: the clinic's test images, named by source.
    rows = (tmp_path / "run" / "test_per_image.csv").read_text().splitlines()[1:]
    assert len(rows) == metrics["split_sizes"]["test"] == 2
    assert all(r.startswith("clinic/") for r in rows)
    with pytest.raises(ConfigError, match="data.sources.gen"):
        train(compose_config([*overrides, "+data.sources.gen.bogus=1"], tmp_path / "bad", False))
