"""What the caller's choice buys (issue 16): the share of eligible callbacks that reach their
own agent, and the wait that costs, on the synthetic year of a 50-agent line, without and with
the wait offer, side by side, all replayed in this run by the live walk (routing_core.candidates).

    .venv/bin/python -m bench.caller_choice [--days 365] [--agents 50] [--fresh]

The history is `bench.simulate_replay`'s (the same cached cluster: the first run generates it,
about two minutes). Each row is one set of settings replayed over every call, two at a time
(one process each, on two cores). The wait offer's figures depend on assumptions history
cannot give (routing_core.replay_assumptions.CallerChoices): the share of callers who press 1 when
offered, who press 2 where a callback is offered, and who answer the callback; each row says
which it used. Target: at least 70% of eligible callbacks reach their agent,
with a median added wait under 60 s. This prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.simulate_replay import history_cluster
from devkit.sandbox.postgres import cache_dir
from devkit.synthetic_history import HistoryShape
from sticky_router.process.logs import configure_logging
from sticky_router.routing_core.replay_assumptions import CallerChoices
from sticky_router.routing_core.replay_tally import Tally
from sticky_router.routing_core.settings import Scope, ScopedValue
from sticky_router.routing_core.store.replay import replay_variants


def rows(**values: int) -> tuple[ScopedValue, ...]:
    return tuple(ScopedValue(Scope.GLOBAL, None, key, value) for key, value in values.items())


NOBODY_CHOOSES = CallerChoices(wait=0.0, callback=0.0)  # settings without the offer


@dataclass(frozen=True)
class Variant:
    label: str
    settings: tuple[ScopedValue, ...]
    choices: CallerChoices = NOBODY_CHOOSES


WINDOW = 240  # minutes: the candidate window
OFFER = {"window_minutes": WINDOW, "wait_offer_seconds": 300}
VARIANTS = (
    Variant("defaults (120 min window, no waiting)", ()),
    Variant("240 min, 20 s silent busy wait", rows(window_minutes=WINDOW, busy_wait_seconds=20)),
    *(
        Variant(
            f"240 min, wait offer up to 5 min, {share:.0%} press 1",
            rows(**OFFER),
            CallerChoices(wait=share, callback=0.0),
        )
        for share in (0.3, 0.5, 0.8)
    ),
    *(
        Variant(
            f"+ callback (60 min): {wait:.0%} press 1, {callback:.0%} press 2, 80% answer",
            rows(**OFFER, callback_expiry_minutes=60),
            CallerChoices(wait=wait, callback=callback, callback_answered=0.8),
        )
        for wait, callback in ((0.3, 0.3), (0.5, 0.3), (0.3, 0.5))
    ),
)


def replay_one(dsn: str, variant: Variant) -> tuple[Tally, int, float]:
    async def replay() -> tuple[Tally, int, float]:
        connection = await asyncpg.connect(dsn)
        try:
            started = time.perf_counter()
            report = await replay_variants(
                connection, {variant.label: variant.settings},
                choices=variant.choices,
            )  # fmt: skip
            return report.tallies[variant.label], report.calls, time.perf_counter() - started
        finally:
            await connection.close()

    return asyncio.run(replay())


def table(results: list[tuple[Variant, Tally]]) -> str:
    width = max(len(variant.label) for variant, _ in results)
    head = (
        f"{'settings':{width}}  {'eligible':>9}  {'reach agent':>11}  {'share':>6}  "
        f"{'waited':>7}  {'median wait':>11}  {'wait/eligible':>13}  {'called back':>11}  "
        f"{'after (median)':>14}  {'missed busy':>11}"
    )
    lines = [head, "-" * len(head)]
    for variant, tally in results:
        waited = sum(tally.waits.values())
        per_eligible = tally.wait_added_seconds / tally.eligible if tally.eligible else 0.0
        lines.append(
            f"{variant.label:{width}}  {tally.eligible:>9,}  {tally.connected:>11,}  "
            f"{tally.connected_share:>6.1%}  {waited:>7,}  {tally.median_wait_seconds:>9} s  "
            f"{per_eligible:>11.1f} s  {sum(tally.callbacks.values()):>11,}  "
            f"{tally.median_callback_minutes:>10} min  {tally.misses.get('busy', 0):>11,}"
        )
    return "\n".join(lines)


async def run(data_dir: Path, shape: HistoryShape) -> None:
    async with history_cluster(data_dir, shape) as dsn:
        started = time.perf_counter()
        context = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as workers:
            done = await asyncio.gather(
                *(loop.run_in_executor(workers, replay_one, dsn, v) for v in VARIANTS)
            )
        calls = done[0][1]
        print(
            f"\nreplayed {calls:,} calls under {len(VARIANTS)} sets of settings in "
            f"{time.perf_counter() - started:.0f} s (two processes)\n"
        )
        print(
            table([(variant, tally) for variant, (tally, _, _) in zip(VARIANTS, done, strict=True)])
        )
        print(
            "\nreach agent: eligible callbacks (the policy named their agent) connected to that "
            "agent; share = reach agent / eligible.\nmedian wait: of the callers who waited "
            "for their agent (silently or on hold after pressing 1); wait/eligible: all waiting "
            "spread over every eligible callback.\ncalled back: callers who pressed 2 and whom "
            "their agent reached (counted in reach agent, adding no wait on the call); after: "
            "from the call to the callback.\nAssumptions: those of the what-if replay "
            "(routing_core.simulate.Replay); the wait offer is made to every caller whose agent "
            "is busy and the stated shares press 1 or 2, the same callers in every row; a "
            "callback is made when the agent's recorded call ended within its 60 minutes."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="regenerate the history")
    parser.add_argument("--data-dir", type=Path, default=cache_dir() / "bench-simulate-postgres")
    args = parser.parse_args()
    configure_logging("warning", "console")
    if args.fresh and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    asyncio.run(
        run(args.data_dir, HistoryShape(agents=args.agents, days=args.days, seed=args.seed))
    )


if __name__ == "__main__":
    main()
