"""The alert rules operators load (ops/prometheus/sticky-router-alerts.yml), checked and unit-tested
by Prometheus's own promtool (Debian's `prometheus` package, installed by scripts/bootstrap)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from sticky_router.process.metrics import PrometheusObserver

RULES_DIR = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
RULES = RULES_DIR / "sticky-router-alerts.yml"
RULE_TESTS = RULES_DIR / "sticky-router-alerts.test.yml"
WEEKLY_RULE_TESTS = RULES_DIR / "sticky-router-alerts-weekly.test.yml"  # the week-over-week one


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool is not None, "promtool is missing: run ./scripts/bootstrap (Debian's prometheus)"
    return subprocess.run(
        [tool, *map(str, arguments)], capture_output=True, text=True, check=False, timeout=120
    )


def test_the_rules_are_valid_prometheus_rules() -> None:
    checked = promtool("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {RULES.read_text().count('- alert: ')} rules found" in checked.stdout


def test_every_alert_fires_on_its_case_and_stays_quiet_on_its_near_miss() -> None:
    tested = promtool("test", "rules", RULE_TESTS, WEEKLY_RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == 2


def test_the_rule_tests_catch_a_rule_that_would_never_fire(tmp_path: Path) -> None:
    """The tests are not vacuous: a router-down rule that waits for the wrong value fails them."""
    rule = 'up{job="sticky-router"} == 0'
    broken = RULES.read_text().replace(rule, rule.replace("0", "2"))
    assert broken != RULES.read_text()
    (tmp_path / RULES.name).write_text(broken)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    tested = promtool("test", "rules", tmp_path / RULE_TESTS.name)
    assert tested.returncode != 0
    assert "StickyRouterDown" in tested.stdout + tested.stderr


def test_every_metric_the_rules_read_is_one_the_router_exposes() -> None:
    """A renamed metric would leave its alert silent for ever: every name the rules read is in
    the router's exposition (counters with their _total, histograms with _count and _bucket)."""
    read = set(re.findall(r"\bsticky_router_[a-z_]+", RULES.read_text()))
    metrics = PrometheusObserver()
    metrics.decision_made("sticky", "last_agent", 0.001, "support")  # a histogram, a counter
    metrics.agi_refused("secret")
    metrics.ticket_mirror_synced("redmine", True, 1)
    metrics.watch_connection("ari", lambda: True)
    metrics.node_checked("node-a", True)
    exposed = {
        line.split("{")[0].split(" ")[0]
        for line in metrics.exposition()[0].decode().splitlines()
        if line and not line.startswith("#")
    }
    assert read, "the rules read no sticky_router metric at all"
    assert read <= exposed, sorted(read - exposed)


def test_the_example_scrape_configuration_loads_the_rules() -> None:
    checked = promtool("check", "config", RULES_DIR / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sticky-router-alerts.yml" in checked.stdout
