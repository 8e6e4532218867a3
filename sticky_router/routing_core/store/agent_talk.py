"""How long an agent's calls last (what the wait offer's estimate is made of), and when their
last one ended (where wrap-up counts from).

Both read through the index on (agent_id, ended_at DESC): the current call is the agent's leg
answered and not yet ended (ended_at NULL comes first in that index), the typical talk time the
median of their answered first-line and specialist legs that ended in the last 30 days
(consultations with a colleague are not talk with a caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sticky_router.routing_core.store import Executor

# When the agent `a` last put the phone down after an answered call: where wrap-up counts from
# (the sticky lookup, the callback dialer, the live view all read it with this one fragment).
LAST_TALK_ENDED = """(SELECT max(t.ended_at) FROM interaction_legs t
                      WHERE t.agent_id = a.id AND t.answered_at IS NOT NULL)"""

_TALK_TIMES = """
    SELECT
        (SELECT extract(epoch FROM $2 - answered_at)::float8
           FROM interaction_legs
          WHERE agent_id = $1 AND ended_at IS NULL AND answered_at IS NOT NULL
            AND answered_at > $2 - interval '12 hours'
          ORDER BY answered_at DESC LIMIT 1) AS elapsed,
        (SELECT percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM ended_at - answered_at)::float8)
           FROM interaction_legs
          WHERE agent_id = $1 AND ended_at > $2 - interval '30 days'
            AND answered_at IS NOT NULL AND NOT consultation) AS typical
"""


@dataclass(frozen=True, slots=True)
class TalkTimes:
    elapsed_seconds: float | None  # of the call the agent is on now, if we recorded it
    typical_seconds: float | None  # None: no answered call in the last 30 days


async def talk_times(connection: Executor, agent_id: int, now: datetime) -> TalkTimes:
    row = await connection.fetchrow(_TALK_TIMES, agent_id, now)
    if row is None:
        return TalkTimes(None, None)
    return TalkTimes(row["elapsed"], row["typical"])
