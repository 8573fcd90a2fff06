"""Every bad-data case is reported at setup, all offending files at once, nothing dropped."""

import logging

import numpy as np
import pytest
from PIL import Image

from skinseg.data import DataValidationError, SkinLesionDataModule, find_ph2
from skinseg.data.io import ImageReadError, read_image, read_mask

from .conftest import write_pair


def setup_folder(root, **kwargs):
    dm = SkinLesionDataModule(
        "folder", str(root), mask_suffix="", image_size=(32, 32), num_workers=0, **kwargs
    )
    dm.setup()
    return dm


def make_folder(root, n=6):
    for i in range(n):
        write_pair(root / "images" / f"c{i}.png", root / "masks" / f"c{i}.png", i)
    return root


def test_missing_mask_and_image_listed(tmp_path):
    root = make_folder(tmp_path)
    (root / "masks" / "c1.png").unlink()
    (root / "images" / "c2.png").unlink()
    with pytest.raises(DataValidationError) as err:
        setup_folder(root)
    msg = str(err.value)
    assert "missing mask (1)" in msg and "c1.png" in msg
    assert "missing image (1)" in msg and "c2" in msg


def test_ph2_missing_mask(ph2_root):
    mask = ph2_root / "PH2 Dataset images" / "IMD004" / "IMD004_lesion" / "IMD004_lesion.bmp"
    mask.unlink()
    with pytest.raises(DataValidationError, match="IMD004_lesion.bmp"):
        find_ph2(ph2_root)


def test_truncated_and_garbage_files(tmp_path):
    root = make_folder(tmp_path)
    data = (root / "images" / "c3.png").read_bytes()
    (root / "images" / "c3.png").write_bytes(data[: len(data) // 2])
    (root / "images" / "c4.png").write_text("this is not an image")
    (root / "masks" / "c5.png").write_bytes(b"")
    with pytest.raises(DataValidationError) as err:
        setup_folder(root)
    msg = str(err.value)
    assert "unreadable file (3)" in msg
    assert "c3.png" in msg and "c4.png" in msg and "c5.png: file is empty" in msg


def test_size_mismatch(tmp_path):
    root = make_folder(tmp_path)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "masks" / "c0.png")
    with pytest.raises(DataValidationError, match=r"(?s)image and mask sizes differ.*48x40.*10x10"):
        setup_folder(root)


def test_non_binary_png_mask(tmp_path):
    root = make_folder(tmp_path)
    Image.fromarray(np.arange(40 * 48, dtype=np.uint16).reshape(40, 48).astype(np.uint8)).save(
        root / "masks" / "c2.png"
    )
    with pytest.raises(DataValidationError, match=r"(?s)mask not binary.*c2.png"):
        setup_folder(root)


def test_jpeg_masks_thresholded_and_counted(tmp_path, caplog):
    root = tmp_path
    for i in range(4):
        write_pair(root / "images" / f"c{i}.png", root / "masks" / f"c{i}.jpg", i)
    with caplog.at_level(logging.WARNING):
        dm = setup_folder(root)
    assert "JPEG mask thresholded at 128 in 4 file(s)" in caplog.text
    assert set(np.unique(dm.datasets["train"].masks[0])) <= {0, 1}


def test_zero_one_masks_accepted(tmp_path):
    for i in range(4):
        write_pair(
            tmp_path / "images" / f"c{i}.png", tmp_path / "masks" / f"c{i}.png", i, mask_scale=1
        )
    dm = setup_folder(tmp_path)
    assert max(m.max() for m in dm.datasets["train"].masks) == 1


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "CMYK"])
def test_image_modes_converted(tmp_path, mode, caplog):
    rgb = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    img = Image.fromarray(rgb)
    if mode == "I;16":
        img = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        path = tmp_path / "x.png"
    elif mode == "CMYK":
        img = img.convert("CMYK")
        path = tmp_path / "x.jpg"
    else:
        img = img.convert(mode)
        path = tmp_path / "x.png"
    img.save(path)
    arr, notes = read_image(path)
    assert arr.shape == (20, 24, 3) and arr.dtype == np.uint8
    assert any("converted" in n for n in notes)
    if mode == "I;16":  # 16-bit scaled, not clipped
        assert abs(int(arr[0, 0, 0]) - int(rgb[0, 0, 0])) <= 1


def test_exif_rotation_applied(tmp_path):
    img = Image.fromarray(np.zeros((10, 30, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees
    img.save(tmp_path / "r.jpg", exif=exif)
    arr, notes = read_image(tmp_path / "r.jpg")
    assert arr.shape == (30, 10, 3) and "EXIF orientation applied" in notes


def test_mask_reader_errors(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        read_mask(tmp_path / "nope.png")


def test_duplicate_ids(tmp_path):
    root = make_folder(tmp_path)
    write_pair(root / "images" / "c1.jpg", root / "masks" / "c9.png", 1)
    with pytest.raises(DataValidationError, match=r"(?s)duplicate id.*c1"):
        setup_folder(root)


def test_empty_and_wrong_roots(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DataValidationError, match="no images"):
        setup_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        setup_folder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="data=synthetic"):
        SkinLesionDataModule("ph2", str(tmp_path / "missing")).setup()
    with pytest.raises(DataValidationError, match="PH2 Dataset images"):
        SkinLesionDataModule("ph2", str(tmp_path)).setup()
