"""Precision chosen by measurement: the bf16 probe, its cache, and what 'auto' picks."""

import json

import pytest

from skinseg import hardware
from skinseg.training.run import train

from .training_helpers import compose_config


@pytest.fixture
def probe_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKINSEG_CACHE_DIR", str(tmp_path))
    return tmp_path / "bf16_probe.json"


def _fake_probe(monkeypatch, speedup: float, channels_last=(1.0, 1.0)) -> list:
    calls = []

    def measure():
        calls.append(1)
        return {
            "fp32_s": 1.0,
            "bf16_s": 1.0 / speedup,
            "speedup": speedup,
            "channels_last_speedup": {"fp32": channels_last[0], "bf16": channels_last[1]},
        }

    monkeypatch.setattr(hardware, "measure_cpu_bf16", measure)
    return calls


def test_cpu_description_names_the_model_and_speed_flags():
    cpu = hardware.cpu_description()
    assert cpu["model"] and cpu["cores"] >= 1
    assert set(cpu["flags"]) <= set(hardware.FLAGS)


def test_the_probe_measures_both_precisions():
    result = hardware.measure_cpu_bf16(repeats=1)
    assert result["fp32_s"] > 0 and result["bf16_s"] > 0
    fastest = min(result["fp32_s"], result["fp32_contiguous_s"])
    fastest_bf16 = min(result["bf16_s"], result["bf16_contiguous_s"])
    assert result["speedup"] == pytest.approx(fastest / fastest_bf16, rel=0.01)
    cl = result["channels_last_speedup"]
    assert cl["fp32"] == pytest.approx(result["fp32_contiguous_s"] / result["fp32_s"], rel=0.01)


@pytest.mark.parametrize(
    "speedup, fast, precision", [(0.12, False, "32"), (2.8, True, "bf16-mixed")]
)
def test_auto_follows_the_measured_speedup_and_measures_once(
    probe_cache, monkeypatch, speedup, fast, precision
):
    calls = _fake_probe(monkeypatch, speedup)
    assert hardware.fast_bf16("cpu") is fast
    assert hardware.training_precision("cpu") == precision
    assert hardware.fast_bf16("cpu") is fast
    assert len(calls) == 1  # then read from the cache
    (entry,) = json.loads(probe_cache.read_text()).values()
    assert entry["speedup"] == speedup


def test_other_devices_do_not_probe_the_cpu(probe_cache, monkeypatch):
    calls = _fake_probe(monkeypatch, 3.0)
    assert hardware.fast_bf16("mps") is False
    assert not calls


def test_a_run_with_precision_auto_records_what_it_chose(tmp_path, probe_cache, monkeypatch):
    _fake_probe(monkeypatch, 0.5)
    metrics = train(compose_config(["logger=none", "callbacks=none"], tmp_path / "slow"))
    assert metrics["precision"] == "32-true"
    _fake_probe(monkeypatch, 3.0)
    probe_cache.unlink()
    metrics = train(compose_config(["logger=none", "callbacks=none"], tmp_path / "fast"))
    assert metrics["precision"] == "bf16-mixed"


def test_channels_last_auto_follows_the_measured_format_speedup(tmp_path, probe_cache, monkeypatch):
    from skinseg.training.run import build_module

    _fake_probe(monkeypatch, 0.5, channels_last=(1.3, 0.9))
    assert hardware.fast_channels_last("cpu", bf16=False) is True
    assert hardware.fast_channels_last("cpu", bf16=True) is False
    assert hardware.fast_channels_last("cuda") is True and not hardware.fast_channels_last("mps")
    cfg = compose_config(["module.channels_last=auto", "trainer.precision=32"], tmp_path)
    assert build_module(cfg, recipe={}).channels_last is True
    cfg = compose_config(["module.channels_last=auto", "trainer.precision=bf16-mixed"], tmp_path)
    assert build_module(cfg, recipe={}).channels_last is False
    cfg = compose_config(["module.channels_last=false"], tmp_path)
    assert build_module(cfg, recipe={}).channels_last is False
