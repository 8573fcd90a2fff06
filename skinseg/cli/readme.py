"""Replace a generated block of a Markdown file between ``<!-- NAME:start -->`` markers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)
    return True
