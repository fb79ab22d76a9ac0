"""pokerd's folders are layers: each imports only from itself and those below."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pokerd"
LAYERS = [
    "engine",
    "wire",
    "ops",
    "store",
    "hands",
    "tables",
    "client",
    "server",
    "tools",
    "cli",
]
"""Bottom to top: a module may import its own layer and those before it
(docs/design.md draws them)."""
CLIENT_MAY_IMPORT = {"client", "engine", "wire"}
"""The client stands beside the server, not on it: a program that follows a
table loads neither the server nor the table shell."""


def imported_modules(path: Path) -> set[str]:
    """The modules `path` imports by absolute name (typing-only imports too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def imported_layers(path: Path) -> set[str]:
    """The pokerd layers `path` imports from."""
    return {
        parts[1]
        for parts in (name.split(".") for name in imported_modules(path))
        if parts[0] == "pokerd" and len(parts) > 1
    }


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    checked = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if layer not in LAYERS:
            continue
        checked += 1
        for target in imported_layers(path):
            if target in LAYERS and LAYERS.index(target) > LAYERS.index(layer):
                upward.append(f"{path.relative_to(PACKAGE)} imports pokerd.{target}")
    assert checked > 40
    assert upward == []


def test_the_client_loads_neither_the_server_nor_the_table_shell() -> None:
    client = PACKAGE / "client"
    beyond = {
        f"{path.relative_to(PACKAGE)} imports pokerd.{target}"
        for path in sorted(client.rglob("*.py"))
        for target in imported_layers(path) - CLIENT_MAY_IMPORT
    }
    assert beyond == set()


def test_no_benchmark_imports_the_server() -> None:
    benchmarks = PACKAGE.parent / "benchmarks"
    found = [
        path.name
        for path in sorted(benchmarks.glob("*.py"))
        if "server" in imported_layers(path)
    ]
    assert found == []


def test_settings_import_nothing_from_pokerd() -> None:
    """So that every layer, the store and tables too, may read its defaults."""
    imported = imported_modules(PACKAGE / "ops" / "settings.py")

    assert [name for name in imported if name.split(".")[0] == "pokerd"] == []
