"""model=smp: segmentation_models_pytorch behind skinseg's contract (the smp extra)."""

import numpy as np
import pytest
import torch
from PIL import Image

from skinseg.inference import load_predictor
from skinseg.inference.loading import save_net_checkpoint
from skinseg.models import GRID, MODELS

from .test_inference import export_differences, write_inputs
from .training_helpers import TINY, compose_config, pretend_not_installed

SMALL = [o for o in TINY if not o.startswith("model.")]  # smp has no base_width/depth

pytest.importorskip("segmentation_models_pytorch", reason="skinseg[smp] not installed")
SMP = MODELS["smp"]
CONFIG = {"_target_": "skinseg.models.SMPModel", "arch": "Unet", "encoder": "resnet18"}
RECIPE = {"image_size": [64, 64], "mean": [0.5] * 3, "std": [0.25] * 3, "threshold": 0.5}


def test_any_size_in_logits_out_and_gradients():
    torch.manual_seed(0)
    net = SMP(encoder="resnet18")
    x = torch.randn(2, 3, 50, 70).contiguous(memory_format=torch.channels_last)
    logits = net(x)
    assert logits.shape == (2, 1, 50, 70)
    logits.mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert len(net.encoder_parameters()) == len(list(net.model.encoder.parameters()))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_encoder_weights_from_a_local_file(tmp_path, suffix):
    torch.manual_seed(1)
    source = SMP(encoder="resnet18").model.encoder.state_dict()
    source = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in source.items()}
    path = tmp_path / f"encoder{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in source.items()}, str(path))
    else:
        torch.save(source, path)
    net = SMP(encoder="resnet18", encoder_weights=str(path))
    for name, tensor in net.model.encoder.state_dict().items():
        assert torch.equal(tensor, source[name]), name
    with pytest.raises(ValueError, match="not weights of this encoder"):
        SMP(encoder="resnet34", encoder_weights=str(path))
    with pytest.raises(FileNotFoundError, match="not found"):
        SMP(encoder="resnet18", encoder_weights=str(tmp_path / "nowhere.pth"))


def test_checkpoint_rebuilds_without_the_weights_file_and_exports(tmp_path):
    weights = tmp_path / "encoder.pth"
    torch.save(SMP(encoder="resnet18").model.encoder.state_dict(), weights)
    torch.manual_seed(2)
    net = SMP(encoder="resnet18", encoder_weights=str(weights)).eval()
    ckpt = save_net_checkpoint(
        net, {**CONFIG, "encoder_weights": str(weights)}, RECIPE, tmp_path / "m.ckpt"
    )
    weights.unlink()  # prediction needs only the checkpoint
    inputs = tmp_path / "in"
    write_inputs(inputs)
    image = np.asarray(Image.open(inputs / "rgb.jpg"))
    probs = load_predictor(ckpt, "cpu", "32").predict([image])[0]
    assert probs.shape == image.shape[:2]
    differences = export_differences(ckpt, inputs, tmp_path, "--precision", "32")
    assert differences and all(d < 1e-3 for d in differences.values()), differences


def test_a_grid_cell_trains_and_the_default_grid_leaves_smp_out(tmp_path):
    from omegaconf import OmegaConf

    from skinseg.training.run import train

    metrics = train(
        compose_config(
            [*SMALL, "model=smp", "model.encoder=resnet18", "loss=dice", "logger=none"],
            tmp_path,
            tiny=False,
        )
    )
    assert metrics["status"] == "completed" and metrics["model"] == "smp"
    assert "smp" not in GRID
    assert OmegaConf.create({"m": "${skinseg.models:}"}).m == "segnet,unet,unet2"


def test_without_the_extra_model_smp_is_one_clear_error(tmp_path, monkeypatch):
    from skinseg.training.run import ConfigError, train

    pretend_not_installed(monkeypatch, "segmentation_models_pytorch")
    with pytest.raises(ConfigError, match=r"pip install 'skinseg\[smp\]'"):
        train(compose_config([*SMALL, "model=smp", "logger=none"], tmp_path, tiny=False))
