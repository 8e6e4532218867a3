"""Figures as the benches print them: percentiles, a spread, megabytes."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float]) -> str:
    """p50 / p90 / p99 / max in ms."""
    if not values:
        return "no values"
    return "  ".join(
        f"{label} {percentile(values, q):7.1f}"
        for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    )


def megabytes(kilobytes: int | None) -> str:
    return "?" if kilobytes is None else f"{kilobytes / 1024:.1f} MB"
