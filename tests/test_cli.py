import pytest

from skinseg.cli.main import main as cli
from skinseg.cli.readme import replace_block
from skinseg.models.summary import count_parameters, forward_flops


def test_models_table_updates_readme(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- models:start -->\nold\n<!-- models:end -->\noutro\n")
    assert cli(["models", "--size", "32", "32", "--update-readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and "| `segnet` | `SegNet` |" in text and text.endswith("outro\n")
    assert "updated" in capsys.readouterr().out


def test_replace_block_needs_markers(tmp_path):
    readme = tmp_path / "R.md"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        replace_block(readme, "models", "x")


def test_flops_counts_conv():
    import torch

    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
    # 2 FLOPs per multiply-add: 2 * (3*3*3) * 4 outputs per pixel * 8*8 pixels
    assert forward_flops(conv, (8, 8)) == 2 * 27 * 4 * 64
    assert count_parameters(conv) == 108
