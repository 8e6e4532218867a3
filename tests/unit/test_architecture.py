"""The routing core knows nothing of ARI, AGI or HTTP: adapters depend on it, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import routing_core

FORBIDDEN = (
    "aiohttp", "ari_app", "agi", "sticky_router", "panoramisk", "sqlalchemy", "alembic", "web",
    "jinja2", "argon2",
)  # fmt: skip


def test_routing_core_imports_no_adapter_or_web_code() -> None:
    offenders = []
    for source in Path(routing_core.__file__).parent.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{source.name}: {name}" for name in names if name.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []
