"""The package's floors (docs/architecture.md): each part imports only parts below it."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "skinseg"
# Bottom to top; a part may import the parts of lower floors only (not its neighbours).
FLOORS = [
    {"atomic", "recipe", "zoo"},  # zoo: the shipped models' files, no code
    {"data", "metrics", "models", "losses", "hardware"},
    {"evaluation"},
    {"inference", "report", "compare", "review"},
    {"training", "serve"},
    {"cli"},
]
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}


def _imports(path: Path) -> set[str]:
    """The skinseg parts a module imports, at module level or inside functions."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        parts |= {n.split(".")[1] for n in names if n.startswith("skinseg.")}
    return parts


def test_every_part_has_a_floor():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    parts = {p for p in parts if not p.startswith("__")}
    assert parts == set(FLOOR), "give new parts of the package a floor here and in the docs"


def test_the_zoo_holds_data_only():
    assert not list((PACKAGE / "zoo").rglob("*.py"))


def test_no_part_imports_its_own_floor_or_above():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0].startswith("__"):
            continue
        own = rel.parts[0].removesuffix(".py")
        for part in _imports(path) - {own}:
            if FLOOR[part] >= FLOOR[own]:
                upward.append(f"{rel} imports skinseg.{part}")
    assert not upward, upward
