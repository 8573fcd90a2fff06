"""The Python API (docs/python_api.md): its example runs as written, and matches predict."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DOC = Path(__file__).resolve().parents[1] / "docs" / "python_api.md"


def test_the_documented_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "Jaccard" in printed and "expected a uint8 image array" in printed
    assert (tmp_path / "lesion_segmentation.png").is_file()


def test_api_masks_are_predicts_masks(tmp_path):
    from skinseg import load_model
    from skinseg.cli.main import main as cli
    from skinseg.data.synthetic import generate_sample

    (tmp_path / "in").mkdir()
    photo, _ = generate_sample(3, seed=2, size=(150, 200))
    Image.fromarray(photo).save(tmp_path / "in" / "a.png")
    assert (
        cli(
            [
                "predict",
                "--model",
                "isic2017",
                "--input",
                str(tmp_path / "in"),
                "--output",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    written = np.asarray(Image.open(tmp_path / "out" / "a_segmentation.png"))
    model = load_model("isic2017")
    assert np.array_equal(model.predict(tmp_path / "in" / "a.png", scale=255), written)
    assert np.array_equal(model.predict(Image.fromarray(photo)), written // 255)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    assert np.array_equal(model.predict(rgba), written // 255)


def test_api_refuses_bad_input_by_name():
    from skinseg import load_model

    model = load_model("isic2017", device="cpu")
    with pytest.raises(TypeError, match="expected an image path, a PIL image or a numpy array"):
        model.predict([1, 2, 3])
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\).*got \(4, 4, 2\)"):
        model.predict(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="scale must be 1 or 255"):
        model.predict(np.zeros((8, 8, 3), np.uint8), scale=2)
    with pytest.raises(FileNotFoundError):
        load_model("no_such_model")


def test_import_skinseg_stays_light():
    import subprocess
    import sys

    code = "import skinseg, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
