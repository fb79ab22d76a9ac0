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


def imported_layers(path: Path) -> set[str]:
    """The pokerd layers `path` imports from (typing-only imports too)."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "pokerd" and len(parts) > 1:
                layers.add(parts[1])
    return layers


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
