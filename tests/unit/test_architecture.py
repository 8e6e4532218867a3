"""The house's rooms: the routing core knows nothing of ARI, AMI, AGI or HTTP, and the
adapters (ARI, AMI, FastAGI, web, queue_log, the HTTP ticket source) stand side by side around
it, none importing another (what two of them share lives in the core, or, for the two
HTTP-speaking ticket sources, in the ticket_transport library beside them), and none importing
the process package (sticky_router.process) that wires them. Every room is a subpackage of the
one installed package, sticky_router. Development tooling (the sandbox, the demo data, the
synthetic history) is the development kit (devkit), beside the product and never in its wheel.
Benches share the test kit (testkit) with the tests and never import the tests themselves."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOUSE = "sticky_router"
ADAPTERS = ("ari_app", "ami", "agi", "web", "queue_log", "tickets_http", "tickets_redmine")
CORE_FORBIDDEN = (
    *ADAPTERS, "ticket_transport", "aiohttp", "process", "panoramisk", "sqlalchemy",
    "alembic", "jinja2", "argon2",
)  # fmt: skip


def room(module: str) -> str:
    """The room an imported module lives in: a subpackage of the house (`routing_core` for
    sticky_router.routing_core.policy), or the top-level package of anything else."""
    parts = module.split(".")
    return parts[1] if parts[0] == HOUSE and len(parts) > 1 else parts[0]


def folder(package: str) -> str:
    """Where a room's modules are in the checkout: inside the house, unless it is a folder of
    the checkout's own (bench, testkit)."""
    return package if package in ("bench", "testkit", "devkit") else f"{HOUSE}/{package}"


def imported_packages(package: str, root: Path = ROOT) -> list[tuple[str, str]]:
    """(file, room) for every import in the package's modules."""
    found = []
    for source in sorted((root / folder(package)).rglob("*.py")):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == HOUSE and node.level == 0:
                names = [
                    f"{HOUSE}.{alias.name}" for alias in node.names
                ]  # from sticky_router import x
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            found += [(source.relative_to(root).as_posix(), room(name)) for name in names]
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
    return [(f, name) for f, name in imported_packages(adapter, root) if name == "process"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_adapter_imports_nothing_from_the_process_package(adapter: str) -> None:
    assert upward_imports(adapter) == []


def test_the_upward_check_sees_an_adapter_importing_the_process_package(tmp_path: Path) -> None:
    """Guards the guard: both spellings of an import, at module level or inside a function."""
    (tmp_path / HOUSE / "web").mkdir(parents=True)
    (tmp_path / HOUSE / "web" / "page.py").write_text(
        "from sticky_router.process.simulation_cli import main\n"
        "def late() -> None:\n"
        "    import sticky_router.process.metrics\n"
    )
    assert upward_imports("web", tmp_path) == [
        ("sticky_router/web/page.py", "process"),
        ("sticky_router/web/page.py", "process"),
    ]


def test_the_check_sees_imports_at_all() -> None:
    """Guards the guard: a package that surely imports the core is seen doing so."""
    assert ("sticky_router/ari_app/app.py", "routing_core") in imported_packages("ari_app")


def test_the_ticket_source_adapter_speaks_the_cores_interface() -> None:
    """The HTTP ticket source builds the core's records (so it is checked as an adapter, not a
    stray package): its client imports routing_core and aiohttp, and the core imports neither
    it nor aiohttp (test above)."""
    imports = imported_packages("tickets_http")
    assert ("sticky_router/tickets_http/client.py", "routing_core") in imports
    assert ("sticky_router/tickets_http/client.py", "aiohttp") in imports


def test_the_shared_ticket_transport_imports_no_adapter() -> None:
    offenders = [
        (f, name)
        for f, name in imported_packages("ticket_transport")
        if name in (*ADAPTERS, "process")
    ]
    assert offenders == []


def test_the_redmine_source_speaks_the_cores_interface_through_the_shared_transport() -> None:
    imports = imported_packages("tickets_redmine")
    assert ("sticky_router/tickets_redmine/client.py", "routing_core") in imports
    assert ("sticky_router/tickets_redmine/client.py", "ticket_transport") in imports
    transport = ("sticky_router/tickets_http/client.py", "ticket_transport")
    assert transport in imported_packages("tickets_http")


def test_the_audit_trail_is_written_in_one_place() -> None:
    """Every settings_audit row goes through routing_core.store.audit.record_change."""
    writers = sorted(
        source.relative_to(ROOT).as_posix()
        for source in (ROOT / HOUSE).rglob("*.py")
        if "INSERT INTO settings_audit" in source.read_text()
    )
    assert writers == ["sticky_router/routing_core/store/audit.py"]


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


def test_the_house_holds_the_rooms_and_nothing_beside_them() -> None:
    """Every folder of the installed package is a room these rules know, so a new package
    cannot slip past them."""
    folders = {p.name for p in (ROOT / HOUSE).iterdir() if (p / "__init__.py").exists()}
    assert folders == {*ADAPTERS, "routing_core", "ticket_transport", "process", "migrations"}


def test_the_room_of_a_module_is_its_subpackage() -> None:
    assert room("sticky_router.routing_core.store.audit") == "routing_core"
    assert room("sticky_router") == "sticky_router"
    assert room("aiohttp.web") == "aiohttp"


def test_the_cli_and_the_router_load_no_development_tooling_until_asked() -> None:
    """The sandbox, the demo data and the synthetic history are development tooling: a
    deployment's `sticky-router run` (with STICKY_ARI_URL) never loads any of the kit."""
    probe = (
        "import sys, sticky_router.process.cli, sticky_router.process.router, "
        "sticky_router.process.agi_process\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'devkit'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert loaded == "[]"


def kit_imports(root: Path = ROOT) -> list[tuple[str, bool]]:
    """(file, guarded) for every import of the development kit in the product: guarded when it
    sits inside a `with development_kit(...)` block, which turns the kit's absence (the wheel
    has none) into one clear sentence."""
    found = []
    for source in sorted((root / HOUSE).rglob("*.py")):
        tree = ast.parse(source.read_text())
        guarded: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and any(
                isinstance(item.context_expr, ast.Call)
                and isinstance(item.context_expr.func, ast.Name)
                and item.context_expr.func.id == "development_kit"
                for item in node.items
            ):
                guarded |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom)
                else []
            )  # fmt: skip
            if any(name.split(".")[0] == "devkit" for name in names):
                found.append((source.relative_to(root).as_posix(), id(node) in guarded))
    return found


def test_the_product_reaches_the_development_kit_only_through_its_one_door() -> None:
    imports = kit_imports()
    assert [(f, guarded) for f, guarded in imports if not guarded] == []
    assert {f for f, _ in imports} <= {
        "sticky_router/process/demo_cli.py",
        "sticky_router/process/simulation_cli.py",
    }


def test_the_door_check_sees_an_unguarded_import(tmp_path: Path) -> None:
    """Guards the guard: a bare import is seen, a guarded one is told apart."""
    (tmp_path / HOUSE).mkdir()
    (tmp_path / HOUSE / "cli.py").write_text(
        "from devkit.demo import seed_demo\n"
        "def late() -> None:\n"
        "    with development_kit('The demo'):\n"
        "        import devkit.sandbox\n"
    )
    assert kit_imports(tmp_path) == [(f"{HOUSE}/cli.py", False), (f"{HOUSE}/cli.py", True)]


def test_the_development_kit_imports_neither_tests_nor_benches() -> None:
    offenders = [(f, n) for f, n in imported_packages("devkit") if n in ("tests", "bench")]
    assert offenders == []


# The web adapter's rooms, each a subpackage of web/, and the rooms each may import: the words
# at the bottom, then sign-in, then the pops (which calls are an agent's to see), then the two
# audiences, which never import each other (an agent's screen holds no admin code, and the
# reverse).
WEB_ROOMS: dict[str, set[str]] = {
    "i18n": set(),
    "auth": {"i18n"},
    "pops": {"auth", "i18n"},
    "agent": {"pops", "auth", "i18n"},
    "admin": {"pops", "auth", "i18n"},
}
# The frame the rooms hang in: the app factory and what every room shares.
WEB_FRAME = {
    "app", "errors", "keys", "scrape", "security", "server", "settings", "sockets", "templates",
    "validation",
}  # fmt: skip


def web_room_imports(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(file, its room, the web room it imports) for every import between web/'s rooms."""
    found = []
    for source in sorted((root / HOUSE / "web").rglob("*.py")):
        parts = source.relative_to(root / HOUSE / "web").parts
        if len(parts) < 2:
            continue  # the frame
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                pieces = name.split(".")
                if pieces[:2] == [HOUSE, "web"] and len(pieces) > 2 and pieces[2] in WEB_ROOMS:
                    found.append((source.relative_to(root).as_posix(), parts[0], pieces[2]))
    return found


def test_web_is_grouped_by_room_around_a_small_frame() -> None:
    web = ROOT / HOUSE / "web"
    rooms = {p.name for p in web.iterdir() if (p / "__init__.py").exists()}
    frame = {p.stem for p in web.glob("*.py")} - {"__init__"}
    assert rooms == set(WEB_ROOMS)
    assert frame == WEB_FRAME


def test_each_web_room_imports_only_the_rooms_below_it() -> None:
    offenders = [
        (f, room, other)
        for f, room, other in web_room_imports()
        if other != room and other not in WEB_ROOMS[room]
    ]
    assert offenders == []


def test_the_web_room_check_sees_the_agent_room_importing_admin_code(tmp_path: Path) -> None:
    """Guards the guard."""
    (tmp_path / HOUSE / "web" / "agent").mkdir(parents=True)
    (tmp_path / HOUSE / "web" / "agent" / "pages.py").write_text(
        "from sticky_router.web.admin.charts import bar_chart\n"
    )
    assert web_room_imports(tmp_path) == [("sticky_router/web/agent/pages.py", "agent", "admin")]
