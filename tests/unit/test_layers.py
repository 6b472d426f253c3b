"""The layering stays true: read from the code's own imports (ast), no module crosses a
forbidden arrow, and no handler decides anything by a platform's name."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_NAMES = frozenset({"console", "slack", "matrix", "cli", "partner", "webhook"})

# Each layer by the modules it holds; a module belongs to the first layer that matches.
LAYERS = {
    "contract": ("bot.connectors.contract",),
    "domain": ("bot.domain",),
    "store": ("bot.store",),
    "outbox": ("bot.outbox",),
    "connectors": ("bot.connectors",),
    "handlers": ("handlers",),
    "cli": ("bot.cli",),
    "app": ("bot.app", "bot.scheduler"),
    "config": ("config",),
}
# Who may not import whom. The contract is what connectors and the outbox share.
FORBIDDEN = {
    "domain": {"store", "outbox", "connectors", "contract", "handlers", "cli", "app", "config"},
    "store": {"outbox", "connectors", "contract", "handlers", "cli", "app"},
    "outbox": {"connectors", "handlers", "cli", "app"},
    "contract": {"store", "outbox", "connectors", "handlers", "cli", "app"},
    "connectors": {"store", "outbox", "handlers", "cli", "app"},
    "handlers": {"connectors", "contract", "cli", "app"},
    "config": {"outbox", "connectors", "contract", "handlers", "cli", "app"},
}


def layer_of(module: str) -> str | None:
    for layer, prefixes in LAYERS.items():
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return layer
    return None


def modules() -> Iterator[tuple[str, Path]]:
    for folder in ("bot", "handlers", "config"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module the code imports, at the top or inside a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:  # `from bot.store import outbox` imports bot.store.outbox
                yield node.lineno, f"{node.module}.{alias.name}"


def crossings() -> list[str]:
    found = []
    for name, path in modules():
        source = layer_of(name)
        if source is None:
            continue
        for line, target in imported(ast.parse(path.read_text(), str(path))):
            reached = layer_of(target)
            if reached in FORBIDDEN.get(source, set()):
                found.append(f"{path.relative_to(ROOT)}:{line}: {source} -> {reached} ({target})")
    return sorted(set(found))


def test_no_module_imports_across_a_forbidden_arrow() -> None:
    assert crossings() == []


def test_the_walk_sees_the_layers_it_checks() -> None:
    """A check that finds nothing must be looking: every layer has modules, and the arrows the
    connectors and handlers do take (to the domain) are seen."""
    named = {layer_of(name) for name, _ in modules()}
    assert set(LAYERS) <= named
    slack = ROOT / "bot" / "connectors" / "slack" / "listeners.py"
    reached = {layer_of(target) for _, target in imported(ast.parse(slack.read_text()))}
    assert {"domain", "contract"} <= reached


def _compares_a_platform(node: ast.Compare) -> bool:
    sides = [node.left, *node.comparators]
    for side in sides:
        if isinstance(side, ast.Attribute) and side.attr in ("platform", "origin_platform"):
            return True
        values = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
        if any(isinstance(v, ast.Constant) and v.value in PLATFORM_NAMES for v in values):
            return True
    return False


@pytest.mark.parametrize(
    "path", sorted((ROOT / "handlers").glob("*.py")), ids=lambda path: path.name
)
def test_no_handler_compares_a_platform_name(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    compared = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare) and _compares_a_platform(node)
    ]
    assert compared == [], f"{path.name} decides by a platform's name on lines {compared}"
