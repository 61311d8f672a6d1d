"""The shape of the package: one concept per entry, imports in one direction, small modules.

Imports are read with ``ast`` (nothing is imported). An import inside ``if TYPE_CHECKING:`` is
for type checkers only and makes no edge at run time, so it is not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "llmroute"

#: The layers, lowest first: a module may import from its own entry and from lower layers only.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "request", "typing"}),
    frozenset({"failures", "usage"}),
    frozenset({"config"}),
    frozenset({"stats"}),
    frozenset({"smart"}),
    frozenset({"health", "affinity"}),
    frozenset({"state"}),
    frozenset({"tactics"}),
    frozenset({"execute"}),
    frozenset({"selector"}),
    frozenset({"redis", "clients"}),
    frozenset({"testing"}),
    frozenset({"cli"}),
    frozenset({"__main__"}),
)
RANK = {entry: rank for rank, layer in enumerate(LAYERS) for entry in layer}

#: Functions allowed past 60 lines: data tables.
LONG_TABLES: frozenset[str] = frozenset()


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def entry_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def runtime_imports(tree: ast.Module) -> list[ast.ImportFrom]:
    """The relative imports made at run time (not those under ``if TYPE_CHECKING:``)."""
    found: list[ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.level > 0:
                found.append(child)
            visit(child)

    visit(tree)
    return found


def imported_entry(path: Path, node: ast.ImportFrom) -> tuple[str, list[str]]:
    """The top-level entry an import reaches and the module path below it."""
    package = list(path.relative_to(SRC).parts[:-1])
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    parts = [*base, *(node.module.split(".") if node.module else [])]
    if not parts:  # ``from . import x`` at the top: x is the entry
        return node.names[0].name, []
    return parts[0], parts[1:]


#: Optional layers (extras) that may sit beside the core entries.
EXTRAS = frozenset({"redis", "otel", "clients"})

#: The tool layer: the command line, above everything it uses (testing included), and the
#: ``python -m llmroute`` entry. Not library code, so not counted with the core entries.
TOOLS = frozenset({"cli", "__main__"})


def test_the_top_level_shows_at_most_17_core_entries() -> None:
    entries = sorted(p.name for p in SRC.iterdir() if not p.name.startswith("__pycache__"))
    core = [entry for entry in entries if entry.removesuffix(".py") not in EXTRAS | TOOLS]
    assert len(core) <= 17, core
    for entry in entries:
        name = entry.removesuffix(".py")
        assert name in RANK or entry in ("__init__.py", "py.typed"), f"{entry} has no layer"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_the_layers_and_never_into_private_modules(path: Path) -> None:
    if path == SRC / "__init__.py":
        return
    own = entry_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in runtime_imports(tree):
        entry, below = imported_entry(path, node)
        if entry == own:
            continue
        where = f"{path.relative_to(SRC)}:{node.lineno}"
        assert RANK[entry] < RANK[own], f"{where}: {own} imports {entry}, a layer above it"
        assert not any(part.startswith("_") for part in below), (
            f"{where}: reads the private module {'.'.join([entry, *below])}"
        )
        private = [alias.name for alias in node.names if alias.name.startswith("_")]
        assert not private, f"{where}: reads private names {private} of {entry}"


@pytest.mark.parametrize(
    ("kept_out", "may_import"),
    [
        (EXTRAS, EXTRAS),  # nothing in the package imports an extra
        (frozenset({"testing"}), frozenset({"testing"}) | TOOLS),  # nor the test doubles
        (TOOLS, TOOLS),  # nor the tool layer
    ],
    ids=["extras", "testing", "tools"],
)
def test_nothing_in_the_package_imports_what_sits_beside_it(
    kept_out: frozenset[str], may_import: frozenset[str]
) -> None:
    for path in modules():
        if entry_of(path) in may_import:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in runtime_imports(tree):
            assert imported_entry(path, node)[0] not in kept_out, path


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_under_400_lines_and_functions_under_60(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400, f"{path.relative_to(SRC)} has more than 400 lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if node.name not in LONG_TABLES:
                assert length <= 60, f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {length}"
