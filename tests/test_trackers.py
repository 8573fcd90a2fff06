"""logger=mlflow and logger=wandb: the same metric names, the resolved config and the best
checkpoint as an artifact, all offline."""

import struct
import time
from pathlib import Path

import pytest

from skinseg.training.run import ConfigError, train

from .training_helpers import compose_config, pretend_not_installed

TRACKED = ["trainer.max_epochs=2", "calibration.select_threshold=true"]


def test_mlflow_file_store(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="skinseg[mlflow] not installed")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "run"
    cfg = compose_config(["logger=mlflow", *TRACKED], out)
    cfg.paths.log_dir = str(tmp_path / "logs")
    metrics = train(cfg)
    client = MlflowClient((tmp_path / "logs" / "mlruns").as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "skinseg"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert {"val/iou", "val/jaccard", "train/loss", "test/jaccard"} <= set(run.data.metrics)
    history = client.get_metric_history(run.info.run_id, "val/iou")
    assert [m.value for m in history] == pytest.approx([e["val/iou"] for e in metrics["history"]])
    assert run.data.params["config/model/base_width"] == "4"
    assert run.data.params["config/data/dataset"] == "synthetic"
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config_resolved.yaml", "checkpoints"} <= names
    local = Path(client.download_artifacts(run.info.run_id, "checkpoints/best.ckpt", str(tmp_path)))
    assert local.read_bytes() == (out / "checkpoints" / "best.ckpt").read_bytes()  # calibrated


def wandb_records(path: Path):
    """The protobuf records of an offline W&B run file (a LevelDB-style log after a 7-byte
    header), as W&B's own reader parses them."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block, pos, buffer = path.read_bytes(), 32768, 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (kind == 0 and length == 0):
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        buffer = chunk if kind in (1, 2) else buffer + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(buffer)
            yield record


def test_wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="skinseg[wandb] not installed")
    for name in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc: not logged in
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    train(compose_config(["logger=wandb", *TRACKED], out))
    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    expected = {"val/iou", "val/jaccard", "train/loss", "test/jaccard"}
    # W&B's service process writes the file behind the run: on a loaded machine the history
    # can land after run.finish() returns, so the file is read until it is there (or 60 s).
    deadline = time.monotonic() + 60
    while True:
        history, artifacts, config = set(), [], set()
        for record in wandb_records(run_file):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                history |= {item.key or "/".join(item.nested_key) for item in record.history.item}
            elif kind == "artifact":
                files = [entry.path for entry in record.artifact.manifest.contents]
                artifacts.append((record.artifact.type, files, set(record.artifact.aliases)))
            elif kind == "config":
                config |= {item.key or "/".join(item.nested_key) for item in record.config.update}
        if (expected <= history and artifacts) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert expected <= history
    assert ("model", ["best.ckpt"], {"best", "latest"}) in artifacts
    assert "config" in config
    assert (run_file.parent / "files" / "config_resolved.yaml").is_file()


def test_missing_tracker_package_is_one_clear_error(tmp_path, monkeypatch):
    pretend_not_installed(monkeypatch, "mlflow")
    with pytest.raises(ConfigError, match=r"pip install 'skinseg\[mlflow\]'"):
        train(compose_config(["logger=mlflow"], tmp_path / "run"))
