"""The one door from the product to the development kit (devkit/ in a source checkout: the
local sandbox, the demo data, the synthetic history).

The wheel never holds the kit, so an operator's installation has none; the commands that need it
(`run` without an Asterisk of one's own, `demo`, `seed-demo`, `generate-history`) import it
inside `development_kit(...)`, which turns its absence into one sentence saying where it lives,
instead of a traceback naming a module the operator has never heard of."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

KIT = "devkit"

# The sandbox's PBX flavours (devkit.sandbox.FLAVOURS is this): named here, so that `--help`
# offers them where the kit is absent. Standard library only: the Asterisk image's render step
# reads it through devkit.sandbox.
SANDBOX_FLAVOURS = ("plain", "freepbx")


class DevelopmentKitMissing(RuntimeError):
    """A development command was asked of an installation that has only the product."""


@contextmanager
def development_kit(what: str) -> Iterator[None]:
    """Imports of devkit inside this block that fail because the kit is absent raise
    DevelopmentKitMissing naming `what`; any other import error is left as it is."""
    try:
        yield
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] != KIT:
            raise
        raise DevelopmentKitMissing(
            f"{what} comes with a checkout of sticky-router's source (its devkit/ folder), not "
            "with this installation: run it from a checkout (./scripts/run), or point "
            "STICKY_ARI_URL and STICKY_DATABASE_URL at an Asterisk and a PostgreSQL of yours"
        ) from None
