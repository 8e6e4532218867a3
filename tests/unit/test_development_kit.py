"""The product's one door to the development kit: absent kit, one clear sentence; any other
import error, untouched."""

from __future__ import annotations

import pytest

from sticky_router.process.development_kit import (
    DevelopmentKitMissing,
    development_kit,
)


def test_an_absent_kit_is_said_in_one_sentence() -> None:
    expected = pytest.raises(DevelopmentKitMissing, match="The demo data comes with a checkout")
    with expected, development_kit("The demo data"):
        raise ModuleNotFoundError("No module named 'devkit'", name="devkit")


def test_a_missing_module_inside_the_kit_is_the_kit_missing_too() -> None:
    with pytest.raises(DevelopmentKitMissing), development_kit("The local sandbox"):
        raise ModuleNotFoundError("No module named 'devkit.sandbox'", name="devkit.sandbox")


def test_another_missing_module_is_not_blamed_on_the_kit() -> None:
    """A dependency the kit itself lacks is a different fault and keeps its own message."""
    expected = pytest.raises(ModuleNotFoundError, match="playwright")
    with expected, development_kit("The local sandbox"):
        raise ModuleNotFoundError("No module named 'playwright'", name="playwright")


def test_the_kit_is_found_in_a_checkout() -> None:
    with development_kit("The demo data"):
        from devkit.demo import seed_demo
    assert callable(seed_demo)
