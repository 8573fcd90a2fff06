"""The prediction contract (skinseg.recipe) and the registries every floor shares."""

from pathlib import Path

import numpy as np
import pytest
import torch

from skinseg.cli.main import main as cli
from skinseg.data import SkinLesionDataModule
from skinseg.data.io import read_image
from skinseg.data.layouts import LAYOUTS, get_layout
from skinseg.inference.predictor import Predictor
from skinseg.recipe import Recipe, normalise, resize_image
from skinseg.training.run import ConfigError, check_optimized_metric, optimized_value, train

from .training_helpers import compose_config


@pytest.mark.parametrize("size", [(32, 40), (64, 80)], ids=["shrink", "enlarge"])
def test_training_and_prediction_inputs_of_a_file_are_identical(folder_root, size):
    # The files are 40 x 48: one size shrinks them (area), the other enlarges them (bilinear).
    dm = SkinLesionDataModule(
        "folder", str(folder_root), image_size=size, num_workers=0, augment=None
    )
    dm.setup()
    recipe = Recipe.from_dict(dm.recipe())
    predictor = Predictor(lambda batch: batch[:, :1], recipe)
    val = dm.datasets["val"]
    for index, sid in enumerate(val.ids):
        trained = val[index]["image"]
        predicted = predictor.preprocess(read_image(folder_root / "images" / f"{sid}.png")[0])
        assert trained.dtype == torch.float32 and trained.shape == (3, *size)
        assert torch.equal(trained, torch.from_numpy(predicted))  # bit for bit


def test_normalise_matches_the_textbook_formula():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    expected = ((image / 255.0 - mean) / std).transpose(2, 0, 1)
    out = normalise(image, mean, std)
    assert out.shape == (3, 5, 7) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert resize_image(image, (5, 7)) is image  # no resize at the size already there


def test_recipe_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match=r"unknown recipe key\(s\) \['fill_hole'\].*fill_holes"):
        Recipe.from_dict({"fill_hole": True})
    for bad, match in (
        ({"threshold": 1.5}, "threshold must be in"),
        ({"tta": "yes"}, "tta must be true or false"),
        ({"image_size": [0, 4]}, "image_size"),
        ({"std": [1, 0, 1]}, "std must be positive"),
        ({"mean": [0.5]}, "mean must be 3 numbers"),
    ):
        with pytest.raises(ValueError, match=match):
            Recipe.from_dict(bad)
    recipe = Recipe.from_dict({"image_size": [8, 12], "tta": True})
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    assert recipe.with_threshold(0.3).threshold == 0.3 and recipe.threshold == 0.5


def test_recipe_mask_applies_threshold_then_postprocessing():
    probs = np.zeros((10, 10), np.float32)
    probs[1:6, 1:6] = 0.8
    probs[3, 3] = 0.2  # a hole
    probs[8, 8] = 0.9  # a speck
    plain = Recipe().to_mask(probs)
    assert plain.sum() == 25 - 1 + 1
    both = Recipe(largest_component=True, fill_holes=True).to_mask(probs)
    assert both[8, 8] == 0 and both[3, 3] == 1 and both.sum() == 25
    assert Recipe().to_mask(probs, threshold=0.85).sum() == 1


def test_a_recipe_typo_is_refused_before_anything_is_read_or_written(tmp_path):
    cfg = compose_config(["+recipe.fill_hole=true"], tmp_path)
    with pytest.raises(ConfigError, match=r"\['fill_hole'\].*'fill_holes'"):
        train(cfg)
    assert not any(tmp_path.iterdir())


def test_optimized_metric_must_name_a_logged_metric(tmp_path):
    assert check_optimized_metric("val/iou_best") == "val/iou"
    assert check_optimized_metric("val/dice") == "val/dice"
    with pytest.raises(ConfigError, match="'val/ioo' is not a logged metric"):
        train(compose_config(["optimized_metric=val/ioo"], tmp_path))
    assert not any(tmp_path.iterdir())
    assert optimized_value({"best_val": {"val/iou": 0.7}}, "val/iou_best") == 0.7
    with pytest.raises(ValueError, match="recorded no value"):
        optimized_value({"best_val": {}}, "val/iou_best")


def test_layout_options_belong_to_their_layout(ph2_root, folder_root):
    with pytest.raises(ValueError, match=r"\['mask_suffix'\] do not belong to layout 'ph2'"):
        SkinLesionDataModule("ph2", str(ph2_root), mask_suffix="_x")
    with pytest.raises(ValueError, match="num_synthetic"):
        SkinLesionDataModule("synthetic", num_synthetic=0).setup()
    assert get_layout("folder").catalog(folder_root).all_samples()[0].id == "case00"
    assert [n for n, layout in LAYOUTS.items() if not layout.needs_root] == ["synthetic"]
    with pytest.raises(ValueError, match="unknown dataset 'ph3'"):
        get_layout("ph3")


def test_split_file_names_the_layout_and_its_options(folder_root, tmp_path):
    import json

    dm = SkinLesionDataModule(
        "folder",
        str(folder_root),
        image_size=(32, 32),
        num_workers=0,
        split_output=str(tmp_path / "split.json"),
    )
    dm.setup()
    saved = json.loads((tmp_path / "split.json").read_text())
    assert saved["dataset"] == "folder"
    assert saved["options"] == {"mask_suffix": "_mask", "images": "images", "masks": "masks"}


def test_evaluate_reads_any_registered_layout(tmp_path, folder_root, capsys):
    # Predictions that equal the truth: every score is 1.
    pred = tmp_path / "pred"
    pred.mkdir()
    for mask in (folder_root / "masks").iterdir():
        (pred / mask.name.replace("_mask", "_segmentation")).write_bytes(mask.read_bytes())
    code = cli(
        [
            "evaluate",
            "--predictions",
            str(pred),
            "--data",
            "folder",
            "--root",
            str(folder_root),
            "--output",
            str(tmp_path / "e"),
        ]
    )
    assert code == 0
    import json

    assert json.loads((tmp_path / "e" / "summary.json").read_text())["jaccard"] == 1.0
    assert "1.0000 [1.000, 1.000]" in capsys.readouterr().out


def test_an_empty_checkpoint_gets_a_message_not_a_traceback(tmp_path, capsys):
    empty = tmp_path / "empty.ckpt"
    empty.touch()
    images = tmp_path / "in"
    images.mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / "a.png")
    code = cli(["predict", "--checkpoint", str(empty), "--input", str(images), "--output", "o"])
    err = capsys.readouterr().err
    assert code == 2 and "the file is empty, not a checkpoint" in err
    assert "Traceback" not in err and not Path("o").exists()


def _deuteranope_chromaticity(rgb) -> np.ndarray:
    """The hue a reader without green cones sees in a colour (Machado et al. 2009, severity 1),
    as chromaticity coordinates: brightness divided out, since two colours that differ only
    in brightness read as one colour drawn lighter or darker."""
    m = np.array([[0.367, 0.861, -0.228], [0.280, 0.673, 0.047], [-0.012, 0.043, 0.969]])
    seen = np.clip(m @ np.asarray(rgb, float), 0, 255)
    return seen / seen.sum()


def test_truth_and_prediction_colours_stay_apart_for_red_green_colour_blind_readers():
    from skinseg.recipe import PREDICTION_COLOUR, TRUTH_COLOUR, overlay

    def apart(a, b) -> float:
        return float(np.linalg.norm(_deuteranope_chromaticity(a) - _deuteranope_chromaticity(b)))

    assert apart(TRUTH_COLOUR, PREDICTION_COLOUR) > 0.3
    assert apart((0, 255, 0), (255, 0, 0)) < 0.1  # why green and red were replaced
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 1
    drawn = overlay(np.zeros((8, 8, 3), np.uint8), mask, PREDICTION_COLOUR)
    assert tuple(drawn[2, 2]) == PREDICTION_COLOUR  # the outline is solid
    assert tuple(drawn[0, 0]) == (0, 0, 0)  # outside the mask untouched
