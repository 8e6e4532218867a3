"""Server-side SVG charts: structure, scaling and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sticky_router.web.admin.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_a_line_chart_has_a_point_per_value_and_percent_ticks() -> None:
    root = parse(line_chart("Share", [("11-01", 0.5), ("11-02", 1.0), ("11-03", 0.0)],
                            percent=True))  # fmt: skip
    assert len(root.findall(f"{SVG}circle")) == 3
    ys = [float(c.get("cy", "0")) for c in root.findall(f"{SVG}circle")]
    assert ys[1] < ys[0] < ys[2]  # 100% highest on screen, 0% lowest
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "100%" in texts
    assert "0%" in texts
    assert root.find(f"{SVG}title").text == "Share"  # type: ignore[union-attr]


def test_bars_are_scaled_to_the_longest_and_labelled() -> None:
    root = parse(bar_chart("Load", [("agent1", 100), ("agent2", 50)]))
    widths = [float(r.get("width", "0")) for r in root.findall(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]
    assert {"agent1", "agent2", "100", "50"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_labels_are_escaped() -> None:
    markup = str(bar_chart('<script>alert(1)</script>"', [("<b>x</b>", 1)]))
    assert "<script>" not in markup
    assert "<b>" not in markup
    assert "&lt;b&gt;x&lt;/b&gt;" in markup
    parse(markup)  # still well-formed XML


def test_empty_data_says_so_instead_of_failing() -> None:
    assert "no calls in this period" in str(line_chart("Share", [], percent=True))
    assert "nothing to show" in str(bar_chart("Load", []))
