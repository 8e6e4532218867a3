"""Reading pops from Postgres (filled in by the agent-screen work)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from web.pop_hub import Pop
from web.sessions import Principal


async def current_pops(pool: asyncpg.Pool, agent: Principal, now: datetime) -> list[Pop]:
    """The agent's pops for calls still ringing or up."""
    return []
