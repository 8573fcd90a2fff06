"""init_from: a new run from another run's weights, refused cleanly when they cannot fit."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skinseg.inference.describe import describe_checkpoint
from skinseg.models import MODELS
from skinseg.training.init_from import InitError, load_initial_weights
from skinseg.training.run import ConfigError, train

from .training_helpers import TINY_CLI, compose_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A finished tiny U-Net run (width 4, depth 2) on synthetic data."""
    out = tmp_path_factory.mktemp("source")
    train(compose_config(["model=unet", "trainer.max_epochs=2", "logger=none"], out))
    return out / "checkpoints" / "best.ckpt"


def net_weights(path: Path) -> dict:
    state = torch.load(path, weights_only=True)["state_dict"]
    return {k[4:]: v for k, v in state.items() if k.startswith("net.")}


def test_strict_init_copies_every_tensor_and_records_provenance(source, tmp_path):
    net = MODELS["unet"](base_width=4, depth=2)
    provenance = load_initial_weights(net, source)
    for name, tensor in net_weights(source).items():
        assert torch.equal(net.state_dict()[name], tensor), name
    assert provenance["loaded_tensors"] == len(net.state_dict())
    assert provenance["skipped"] == {"missing": [], "unexpected": [], "mismatched": []}
    assert provenance["sha256"] == describe_checkpoint(source)["sha256"]
    assert provenance["training_data"]["dataset"] == "synthetic"
    assert provenance["recipe"]["image_size"] == [32, 32]

    out = tmp_path / "finetune"
    metrics = train(
        compose_config(["model=unet", f"init_from={source}", "trainer.max_epochs=1"], out)
    )
    assert metrics["init_from"]["sha256"] == provenance["sha256"]
    assert metrics["epochs"] == 1  # a new run: its own epoch counter, not the source's
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["init_from"]["path"] == str(source.resolve())
    stored = describe_checkpoint(out / "checkpoints" / "best.ckpt")
    assert stored["init_from"]["sha256"] == provenance["sha256"]


def test_another_architecture_is_refused_before_training(source, tmp_path):
    out = tmp_path / "wider"
    cfg = compose_config(["model=unet", "model.base_width=8", f"init_from={source}"], out)
    with pytest.raises(ConfigError) as caught:
        train(cfg)
    message = str(caught.value)
    assert "55 mismatched" in message
    assert "down.0.0.0.weight (file [8, 4, 3, 3], model [16, 8, 3, 3])" in message
    assert "init_from_strict=false" in message
    assert not (out / "checkpoints").exists()
    with pytest.raises(InitError, match="another architecture"):
        load_initial_weights(MODELS["segnet"](base_width=4, depth=2), source)


def test_non_strict_loads_what_matches_and_lists_the_rest(source, tmp_path):
    out = tmp_path / "deeper"
    overrides = ["model=unet", "model.depth=3", f"init_from={source}", "init_from_strict=false"]
    metrics = train(compose_config(overrides, out))
    init = metrics["init_from"]
    assert init["strict"] is False and init["loaded_tensors"] > 0
    assert any(k.startswith("down.2.") for k in init["skipped"]["missing"])
    deeper = MODELS["unet"](base_width=4, depth=3)
    assert init["loaded_tensors"] + len(init["skipped"]["missing"]) + len(
        init["skipped"]["mismatched"]
    ) == len(deeper.state_dict())


def test_crafted_or_foreign_files_are_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    crafted = tmp_path / "crafted.ckpt"
    crafted.write_bytes(pickle.dumps({"state_dict": Payload()}))
    net = MODELS["unet"](base_width=4, depth=2)
    with pytest.raises(InitError, match="refused or unreadable"):
        load_initial_weights(net, crafted)
    assert not marker.exists()
    foreign = tmp_path / "plain.pt"
    torch.save({"state_dict": net.state_dict()}, foreign)
    with pytest.raises(InitError, match="not a skinseg training checkpoint"):
        load_initial_weights(net, foreign)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_initial_weights(net, tmp_path / "missing.ckpt")


def test_encoder_learning_rate_scale(tmp_path):
    from skinseg.training.run import build_module, build_recipe

    cfg = compose_config(["model=unet", "module.encoder_lr_scale=0.1"], tmp_path)
    from skinseg.training.run import build_datamodule

    module = build_module(cfg, build_recipe(cfg, build_datamodule(cfg, tmp_path)))
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    lrs = [
        group["initial_lr"] if "initial_lr" in group else group["lr"]
        for group in optimizer.param_groups
    ]
    assert lrs == pytest.approx([cfg.optimizer.lr * 0.1, cfg.optimizer.lr])
    encoder = {id(p) for p in optimizer.param_groups[0]["params"]}
    assert encoder == {id(p) for p in module.net.encoder_parameters()}
    assert len(encoder) + len(optimizer.param_groups[1]["params"]) == len(
        list(module.net.parameters())
    )


class EncoderProbe:
    """A callback that keeps the encoder's and the head's weights after every epoch."""

    snapshots: list = []

    def __new__(cls):
        import lightning as L

        class Probe(L.Callback):
            def on_train_epoch_end(self, trainer, module):
                net = module.net
                cls.snapshots.append(
                    (
                        [p.detach().clone() for p in net.encoder_parameters()],
                        net.head.weight.detach().clone(),
                        net.stem[0][1].running_mean.clone(),
                    )
                )

        return Probe()


def test_frozen_encoder_trains_only_the_decoder_first(source, tmp_path):
    EncoderProbe.snapshots = []
    overrides = ["model=unet", f"init_from={source}", "module.freeze_encoder_epochs=1"]
    overrides += [
        "trainer.max_epochs=2",
        "+callbacks.probe._target_=tests.test_init_from.EncoderProbe",
    ]
    train(compose_config(overrides, tmp_path / "frozen"))
    start = net_weights(source)
    net = MODELS["unet"](base_width=4, depth=2)
    net.load_state_dict(start)
    initial = [p.detach() for p in net.encoder_parameters()]
    (after_0, head_0, stats_0), (after_1, _, stats_1) = EncoderProbe.snapshots
    assert all(torch.equal(a, b) for a, b in zip(initial, after_0, strict=True))
    assert torch.equal(stats_0, start["stem.0.1.running_mean"])  # BatchNorm kept too
    assert not torch.equal(head_0, start["head.weight"])  # the decoder trained
    assert not all(torch.equal(a, b) for a, b in zip(after_0, after_1, strict=True))
    assert not torch.equal(stats_0, stats_1)


def test_train_py_mismatch_is_one_line(source, tmp_path):
    args = [*TINY_CLI, "model.base_width=8", f"init_from={source}", f"hydra.run.dir={tmp_path}"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2
    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if "error:" in line]
    assert len(errors) == 1 and "init_from_strict=false" in errors[0], output[-2000:]
    assert "Traceback" not in output
