"""Outage mode by itself (issue 16): the backlog judged with hysteresis, and the callers waiting
as AMI reports them."""

from __future__ import annotations

from sticky_router.ami.caller_board import CallerBoard
from sticky_router.routing_core.backlog import QueueBacklog, Thresholds, Verdict
from sticky_router.routing_core.settings import RoutingSettings

LIMITS = Thresholds(waiting_callers=10, longest_wait_seconds=300, clear_seconds=600)


def judge(queue: QueueBacklog, waiting: int, longest: float, now: float, *, ours: bool = False,
          declared: bool = False, limits: Thresholds = LIMITS) -> Verdict:  # fmt: skip
    return queue.judge(
        limits, waiting, longest, now, ours_in_force=ours, declared_in_force=declared
    )


def test_it_starts_only_when_both_the_callers_and_the_longest_wait_are_over() -> None:
    queue = QueueBacklog()
    assert judge(queue, 50, 299, 0) is Verdict.KEEP  # a crowd, but nobody waited long yet
    assert judge(queue, 9, 900, 0) is Verdict.KEEP  # long waits, but few callers
    assert judge(queue, 10, 300, 0) is Verdict.START


def test_off_or_under_a_declared_outage_it_starts_nothing() -> None:
    off = Thresholds(0, 300, 600)
    assert judge(QueueBacklog(), 500, 3000, 0, limits=off) is Verdict.KEEP
    assert judge(QueueBacklog(), 500, 3000, 0, declared=True) is Verdict.KEEP


def test_it_ends_after_the_backlog_stayed_under_half_for_the_clear_time() -> None:
    queue = QueueBacklog()
    assert judge(queue, 6, 200, 0, ours=True) is Verdict.KEEP  # under the start, over half
    assert judge(queue, 4, 200, 10, ours=True) is Verdict.KEEP  # under half: the clock runs
    assert judge(queue, 4, 200, 300, ours=True) is Verdict.KEEP
    assert judge(queue, 6, 200, 400, ours=True) is Verdict.KEEP  # back over half: restarts
    assert judge(queue, 20, 100, 500, ours=True) is Verdict.KEEP  # calm again (short waits)
    assert judge(queue, 20, 100, 1099, ours=True) is Verdict.KEEP
    assert judge(queue, 20, 100, 1100, ours=True) is Verdict.END


def test_switched_off_while_in_force_it_still_ends_after_the_clear_time() -> None:
    queue, off = QueueBacklog(), Thresholds(0, 300, 600)
    assert judge(queue, 500, 3000, 0, ours=True, limits=off) is Verdict.KEEP
    assert judge(queue, 500, 3000, 600, ours=True, limits=off) is Verdict.END


def test_the_thresholds_are_the_queues_settings() -> None:
    knobs = RoutingSettings(auto_outage_waiting_callers=25, auto_outage_longest_wait_seconds=120)
    assert Thresholds.of(knobs) == Thresholds(25, 120, 600)
    assert Thresholds.of(RoutingSettings()).waiting_callers == 0  # off unless set


def test_the_board_counts_callers_and_their_longest_wait() -> None:
    board = CallerBoard()
    board.replace(
        [
            {"Event": "QueueParams", "Queue": "support"},
            {"Event": "QueueEntry", "Queue": "support", "Uniqueid": "1.1", "Wait": "40"},
            {"Event": "QueueEntry", "Queue": "support", "Uniqueid": "1.2", "Wait": "5"},
            {"Event": "QueueEntry", "Queue": "billing", "Uniqueid": "1.3", "Wait": "x"},
        ],
        now=100.0,
    )
    assert board.known
    assert board.backlog(110.0) == {"support": (2, 50.0), "billing": (1, 10.0)}
    board.handle({"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "1.4"}, 110.0)
    board.handle({"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "1.4"}, 115.0)
    board.handle({"Event": "QueueCallerAbandon", "Queue": "support", "Uniqueid": "1.1"}, 111.0)
    board.handle({"Event": "QueueCallerLeave", "Queue": "support", "Uniqueid": "1.1"}, 111.0)
    board.handle({"Event": "QueueCallerLeave", "Queue": "billing", "Uniqueid": "1.3"}, 111.0)
    board.handle({"Event": "QueueCallerJoin", "Queue": "", "Uniqueid": "1.9"}, 111.0)
    assert board.backlog(120.0) == {"support": (2, 25.0)}  # 1.2 since 95, 1.4 since 110
    board.forget()
    assert not board.known
    assert board.backlog(120.0) == {}
