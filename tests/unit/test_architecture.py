"""The house's rooms: the routing core knows nothing of ARI, AMI, AGI or HTTP, and the
adapters (ARI, AMI, FastAGI, web, queue_log, the HTTP ticket source) stand side by side around
it, none importing another (what two of them share lives in the core, or, for the two
HTTP-speaking ticket sources, in the ticket_transport library beside them), and none importing
the process package (sticky_router) that wires them. Benches share the test kit (testkit) with
the tests and never import the tests themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("ari_app", "ami", "agi", "web", "queue_log", "tickets_http", "tickets_redmine")
CORE_FORBIDDEN = (
    *ADAPTERS, "ticket_transport", "aiohttp", "sticky_router", "panoramisk", "sqlalchemy",
    "alembic", "jinja2", "argon2",
)  # fmt: skip


def imported_packages(package: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """(file, top-level package) for every import in the package's modules."""
    found = []
    for source in sorted((root / package).rglob("*.py")):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            found += [(source.relative_to(root).as_posix(), name.split(".")[0]) for name in names]
    return found


def test_routing_core_imports_no_adapter_or_web_code() -> None:
    offenders = [
        (f, name) for f, name in imported_packages("routing_core") if name in CORE_FORBIDDEN
    ]
    assert offenders == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_adapter_imports_no_other_adapter(adapter: str) -> None:
    others = set(ADAPTERS) - {adapter}
    offenders = [(f, name) for f, name in imported_packages(adapter) if name in others]
    assert offenders == []


def upward_imports(adapter: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """An adapter's imports of the process package, which wires the adapters and stands above
    them: what an adapter needs from it belongs to the core or to the adapter itself."""
    return [(f, name) for f, name in imported_packages(adapter, root) if name == "sticky_router"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_adapter_imports_nothing_from_the_process_package(adapter: str) -> None:
    assert upward_imports(adapter) == []


def test_the_upward_check_sees_an_adapter_importing_the_process_package(tmp_path: Path) -> None:
    """Guards the guard: both spellings of an import, at module level or inside a function."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "page.py").write_text(
        "from sticky_router.simulation_cli import main\n"
        "def late() -> None:\n"
        "    import sticky_router.metrics\n"
    )
    assert upward_imports("web", tmp_path) == [
        ("web/page.py", "sticky_router"),
        ("web/page.py", "sticky_router"),
    ]


def test_the_check_sees_imports_at_all() -> None:
    """Guards the guard: a package that surely imports the core is seen doing so."""
    assert ("ari_app/app.py", "routing_core") in imported_packages("ari_app")


def test_the_ticket_source_adapter_speaks_the_cores_interface() -> None:
    """The HTTP ticket source builds the core's records (so it is checked as an adapter, not a
    stray package): its client imports routing_core and aiohttp, and the core imports neither
    it nor aiohttp (test above)."""
    imports = imported_packages("tickets_http")
    assert ("tickets_http/client.py", "routing_core") in imports
    assert ("tickets_http/client.py", "aiohttp") in imports


def test_the_shared_ticket_transport_imports_no_adapter() -> None:
    offenders = [
        (f, name)
        for f, name in imported_packages("ticket_transport")
        if name in (*ADAPTERS, "sticky_router")
    ]
    assert offenders == []


def test_the_redmine_source_speaks_the_cores_interface_through_the_shared_transport() -> None:
    imports = imported_packages("tickets_redmine")
    assert ("tickets_redmine/client.py", "routing_core") in imports
    assert ("tickets_redmine/client.py", "ticket_transport") in imports
    assert ("tickets_http/client.py", "ticket_transport") in imported_packages("tickets_http")


def test_the_audit_trail_is_written_in_one_place() -> None:
    """Every settings_audit row goes through routing_core.store.audit.record_change."""
    writers = sorted(
        source.relative_to(ROOT).as_posix()
        for package in ("routing_core", *ADAPTERS, "sticky_router")
        for source in (ROOT / package).rglob("*.py")
        if "INSERT INTO settings_audit" in source.read_text()
    )
    assert writers == ["routing_core/store/audit.py"]


def test_benches_import_nothing_from_the_tests() -> None:
    """What a bench shares with the tests (SIPp phones, SIP logs, Chromium) is the test kit."""
    assert [(f, name) for f, name in imported_packages("bench") if name == "tests"] == []


def test_the_test_kit_imports_neither_tests_nor_benches() -> None:
    offenders = [(f, n) for f, n in imported_packages("testkit") if n in ("tests", "bench")]
    assert offenders == []


def test_the_bench_check_sees_a_bench_importing_the_tests(tmp_path: Path) -> None:
    """Guards the guard: the import the benches used to make is seen."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "calls.py").write_text("from tests.sipp.sipp import SippPhone\n")
    assert imported_packages("bench", tmp_path) == [("bench/calls.py", "tests")]
