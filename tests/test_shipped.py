"""Shipped models: the file in the package, its hash and card, and every command that takes it."""

import json
import re
import shutil

import numpy as np
import pytest
import torch

from skinseg.cli.main import main as skinseg
from skinseg.data.synthetic import generate_sample
from skinseg.evaluation import score_mask
from skinseg.inference import shipped
from skinseg.inference.export import export
from skinseg.inference.loading import load_predictor, save_net_checkpoint
from skinseg.inference.nets import CheckpointError
from skinseg.models import MODELS
from skinseg.training.init_from import InitError, load_initial_weights

from .training_helpers import compose_config

ISIC = shipped.ZOO / "isic2017.safetensors"
RECIPE = {"image_size": [32, 32], "tta": False}


def test_the_shipped_file_matches_its_json_and_its_card():
    models = shipped.shipped_models()
    assert "isic2017" in models
    model = models["isic2017"]
    digest = shipped.file_sha256(ISIC)
    assert digest == model.info["sha256"]
    # The card states the full hash, and the size the repository allows.
    assert digest in model.card.read_text(encoding="utf-8")
    assert ISIC.stat().st_size <= 32 * 2**20
    assert model.info["dtype"] == "float16"
    assert model.info["training_data"]["dataset"] == "isic2017"
    assert model.info["training"]["command"].startswith("python train.py experiment=isic_best")


def test_the_shipped_model_segments_a_synthetic_lesion():
    predictor = load_predictor("isic2017", "cpu", "32")
    scores = []
    for index in range(8):
        image, truth = generate_sample(index, seed=0, size=(192, 256))
        mask = predictor.to_mask(predictor.predict([image])[0])
        assert mask.shape == truth.shape
        scores.append(score_mask(str(index), mask, truth > 0)["jaccard"])
    # Measured 0.64 (0.62 for the 15-epoch model before it; it never saw synthetic images); an
    # empty or random mask scores near 0.
    assert np.mean(scores) > 0.5, scores


def test_predict_and_models_take_the_shipped_name(tmp_path, capsys):
    image, _ = generate_sample(0, seed=0, size=(96, 128))
    from PIL import Image

    Image.fromarray(image).save(tmp_path / "lesion.png")
    assert skinseg(["predict", "--model", "isic2017", "--input", str(tmp_path / "lesion.png"),
                    "--output", str(tmp_path / "masks")]) == 0  # fmt: skip
    mask = np.asarray(Image.open(tmp_path / "masks" / "lesion_segmentation.png"))
    assert mask.shape == (96, 128) and set(np.unique(mask)) <= {0, 255} and mask.any()
    assert skinseg(["models"]) == 0
    assert "`isic2017`" in capsys.readouterr().out
    assert skinseg(["predict", "--model", "nope", "--input", str(tmp_path), "--output",
                    str(tmp_path / "x")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no shipped model named 'nope'" in err and "isic2017" in err


def test_evaluate_takes_the_shipped_name(tmp_path):
    from PIL import Image

    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    for index in range(2):
        image, truth = generate_sample(index, seed=0, size=(96, 128))
        Image.fromarray(image).save(tmp_path / "images" / f"case{index}.png")
        Image.fromarray(truth * 255).save(tmp_path / "masks" / f"case{index}_segmentation.png")
    args = ["evaluate", "--model", "isic2017", "--images", str(tmp_path / "images")]
    args += ["--masks", str(tmp_path / "masks"), "--output", str(tmp_path / "scores")]
    assert skinseg(args) == 0
    summary = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert summary["images"] == 2 and summary["jaccard"] > 0.3


def test_the_shipped_model_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    result = export("isic2017", "onnx", tmp_path / "isic2017.onnx")
    assert result["max_abs_diff"] < 1e-4
    onnx_masks = load_predictor(tmp_path / "isic2017.onnx", "cpu")
    torch_masks = load_predictor("isic2017", "cpu", "32")
    image, _ = generate_sample(3, seed=0, size=(120, 160))
    a = onnx_masks.to_mask(onnx_masks.predict([image])[0])
    b = torch_masks.to_mask(torch_masks.predict([image])[0])
    assert np.mean(a != b) < 1e-3


@pytest.fixture()
def tiny_checkpoint(tmp_path):
    net = MODELS["unet"](base_width=4, depth=2).eval()
    config = {"_target_": "skinseg.models.UNet", "base_width": 4, "depth": 2}
    return net, save_net_checkpoint(net, config, RECIPE, tmp_path / "tiny.ckpt")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_safetensors_export_round_trips(tiny_checkpoint, tmp_path, dtype):
    net, ckpt = tiny_checkpoint
    out = tmp_path / "tiny.safetensors"
    result = export(ckpt, "safetensors", out, dtype=dtype)
    assert result["max_abs_diff"] < (1e-6 if dtype == "float32" else 2e-2)
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["dtype"] == dtype and info["sha256"] == shipped.file_sha256(out)
    assert info["exported_from"]["file"] == "tiny.ckpt"
    loaded, recipe = shipped.load_net(out)
    assert recipe.image_size == (32, 32)
    for name, tensor in net.state_dict().items():
        got = loaded.state_dict()[name]
        assert got.dtype == tensor.dtype, name  # floats come back as float32
        if dtype == "float32":
            assert torch.equal(got, tensor), name
        else:
            assert torch.allclose(got, tensor, rtol=1e-3, atol=1e-4), name


def test_a_changed_or_incomplete_pair_is_refused(tiny_checkpoint, tmp_path):
    _, ckpt = tiny_checkpoint
    out = tmp_path / "pair" / "tiny.safetensors"
    export(ckpt, "safetensors", out)
    data = bytearray(out.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of a weight
    out.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 .* was changed or damaged"):
        load_predictor(out, "cpu")
    out.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="needs its tiny.json beside it"):
        load_predictor(out, "cpu")
    with pytest.raises(ValueError, match=r"ends in \.safetensors"):
        export(ckpt, "safetensors", tmp_path / "tiny.bin")


def test_init_from_takes_a_shipped_name_and_a_safetensors_file(tiny_checkpoint, tmp_path):
    net = MODELS["unet"](base_width=16)
    provenance = load_initial_weights(net, "isic2017")
    assert provenance["shipped"] == "isic2017"
    assert provenance["sha256"] == shipped.file_sha256(ISIC)
    assert provenance["training_data"]["dataset"] == "isic2017"
    state, _ = shipped.load_state(ISIC)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())
    # Another width is refused by name, before any training.
    with pytest.raises(InitError, match="another architecture"):
        load_initial_weights(MODELS["unet"](base_width=8), "isic2017")
    with pytest.raises(FileNotFoundError, match="isic2016: no such file, and no shipped model"):
        load_initial_weights(net, "isic2016")
    with pytest.raises(FileNotFoundError, match="model file .*missing.ckpt not found"):
        load_initial_weights(net, tmp_path / "missing.ckpt")
    # A copy elsewhere is a plain .safetensors model: same weights, not called shipped.
    copy = tmp_path / "copy.safetensors"
    shutil.copyfile(ISIC, copy)
    shutil.copyfile(ISIC.with_suffix(".json"), copy.with_suffix(".json"))
    assert "shipped" not in load_initial_weights(MODELS["unet"](base_width=16), copy)


def test_the_finetune_recipe_starts_from_the_shipped_model(tmp_path):
    from skinseg.training.run import train

    cfg = compose_config(["experiment=ph2_finetune", f"data.root={tmp_path}"], tmp_path, False)
    assert cfg.init_from == "isic2017" and cfg.data.dataset == "ph2"
    assert cfg.trainer.max_epochs <= 40 and cfg.recipe.tta  # ph2_best's prediction recipe
    overrides = [
        "experiment=ph2_finetune",
        "data=synthetic",
        "data.num_synthetic=12",
        "data.image_size=[32,48]",
        "data.num_workers=0",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "logger=none",
        "callbacks.prediction_grid=null",
    ]
    metrics = train(compose_config(overrides, tmp_path / "run", False))  # width 16, as shipped
    assert metrics["status"] == "completed"
    assert metrics["init_from"]["shipped"] == "isic2017"
    assert re.fullmatch(r"[0-9a-f]{64}", metrics["init_from"]["sha256"])


def test_serve_describes_the_shipped_model():
    pytest.importorskip("fastapi", reason="skinseg[serve] not installed")
    httpx = pytest.importorskip("httpx", reason="the serve tests need httpx")
    from .browser import running_server
    from .test_serve import make_app

    with running_server(make_app(ISIC)) as url, httpx.Client(base_url=url, timeout=60) as c:
        model = c.get("/model").json()
        image, _ = generate_sample(1, seed=0, size=(96, 128))
        from io import BytesIO

        from PIL import Image

        buffer = BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        answer = c.post("/predict", files={"image": ("a.png", buffer.getvalue())})
    assert model["format"] == "safetensors" and model["name"] == "isic2017"
    assert model["sha256"] == shipped.file_sha256(ISIC)
    assert model["training"]["commit"] and model["evaluation"]["ph2_zero_shot"]["images"] == 100
    assert answer.status_code == 200 and answer.headers["X-Model-SHA256"] == model["sha256"]


def test_the_only_weights_in_the_repository_are_shipped_models_with_cards():
    import subprocess

    root = shipped.ZOO.parents[1]
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    weights = (".ckpt", ".pt", ".pth", ".onnx", ".safetensors", ".bin", ".h5")
    found = [f for f in listed.stdout.split("\0") if f.endswith(weights)]
    for name in found:
        assert name.startswith("skinseg/zoo/") and name.endswith(".safetensors"), name
        for sibling in (".json", ".md"):
            assert (root / name).with_suffix(sibling).is_file(), f"{name} has no {sibling}"
