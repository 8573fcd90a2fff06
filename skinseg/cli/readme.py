"""Replace a generated block of a Markdown file between ``<!-- NAME:start -->`` markers."""

from __future__ import annotations

from pathlib import Path

from skinseg.atomic import write_text


def replace_block(path: Path, name: str, content: str) -> bool:
    """Write ``content`` between the ``name`` markers of ``path``, atomically.

    Returns:
        True if the file changed.

    Raises:
        ValueError: if the markers are missing.
    """
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"{path}: markers {start!r} and {end!r} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{content.strip()}\n{end}{tail}"
    if new == text:
        return False
    write_text(path, new)
    return True
