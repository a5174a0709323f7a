"""Tests for machine/clock.py: event order, cancellation, time, snapshots."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machine.clock import EV_DISK_DONE, EV_TIMER, Clock, Event
from machine.state_generated import load_clock, save_clock


def pop_all(clock: Clock) -> list[Event]:
    out: list[Event] = []
    while True:
        ev = clock.pop()
        if ev is None:
            return out
        out.append(ev)


def test_empty_clock() -> None:
    clock = Clock()
    assert clock.now == 0
    assert clock.pop() is None
    assert clock.peek_time() == -1
    assert clock.pending() == 0
    assert clock.now == 0


def test_pop_orders_by_time_then_schedule_order() -> None:
    clock = Clock()
    s1 = clock.schedule(50, EV_TIMER, 1, 0)
    s2 = clock.schedule(10, EV_DISK_DONE, 2, 0)
    s3 = clock.schedule(50, EV_TIMER, 3, 0)
    s4 = clock.schedule(10, EV_TIMER, 4, 0)
    assert [s1, s2, s3, s4] == [0, 1, 2, 3]
    evs = pop_all(clock)
    assert [(e.time, e.a) for e in evs] == [(10, 2), (10, 4), (50, 1), (50, 3)]
    assert [e.seq for e in evs] == [s2, s4, s1, s3]
    assert evs[0].kind == EV_DISK_DONE and evs[1].kind == EV_TIMER
    assert clock.now == 50
    assert clock.events_dispatched == 4


def test_pop_advances_now_and_past_is_rejected() -> None:
    clock = Clock()
    clock.schedule(100, EV_TIMER, 0, 0)
    ev = clock.pop()
    assert ev is not None and ev.time == 100 and clock.now == 100
    with pytest.raises(ValueError, match="in the past"):
        clock.schedule(99, EV_TIMER, 0, 0)
    clock.schedule(100, EV_TIMER, 7, 8)  # "now" is allowed
    ev = clock.pop()
    assert ev is not None and (ev.time, ev.a, ev.b) == (100, 7, 8)


def test_cancel() -> None:
    clock = Clock()
    a = clock.schedule(5, EV_TIMER, 1, 0)
    b = clock.schedule(6, EV_TIMER, 2, 0)
    c = clock.schedule(7, EV_TIMER, 3, 0)
    assert clock.pending() == 3
    assert clock.cancel(a) is True
    assert clock.cancel(a) is False
    assert clock.cancel(999) is False
    assert clock.pending() == 2
    assert clock.peek_time() == 6
    ev = clock.pop()
    assert ev is not None and ev.seq == b
    assert clock.cancel(b) is False  # already fired
    assert clock.cancel(c) is True
    assert clock.pop() is None
    assert clock.now == 6
    assert clock.events_dispatched == 1


def test_pending_events_lists_live_events_in_order() -> None:
    clock = Clock()
    clock.schedule(30, EV_TIMER, 1, 0)
    gone = clock.schedule(20, EV_TIMER, 2, 0)
    clock.schedule(20, EV_TIMER, 3, 0)
    clock.cancel(gone)
    assert [(e.time, e.a) for e in clock.pending_events()] == [(20, 3), (30, 1)]
    assert "pending=2" in repr(clock)


def test_state_round_trip_and_continuation() -> None:
    clock = Clock()
    for i in range(10):
        clock.schedule(100 + (i * 37) % 7, EV_TIMER, i, i * 2)
    clock.cancel(3)
    clock.pop()
    clock.pop()
    state = save_clock(clock)
    again = load_clock(state)
    assert save_clock(again) == state
    a = [(e.time, e.seq, e.kind, e.a, e.b) for e in pop_all(clock)]
    b = [(e.time, e.seq, e.kind, e.a, e.b) for e in pop_all(again)]
    assert a == b
    assert clock.now == again.now
    assert clock.schedule(1000, EV_TIMER, 0, 0) == again.schedule(1000, EV_TIMER, 0, 0)


def test_from_state_rejects_inconsistent_events() -> None:
    good = {"now": 10, "next_seq": 2, "events_dispatched": 0, "events": [20, 1, EV_TIMER, 0, 0]}
    assert load_clock(good).pending() == 1
    past = dict(good, events=[5, 1, EV_TIMER, 0, 0])
    with pytest.raises(ValueError):
        load_clock(past)
    future_seq = dict(good, events=[20, 2, EV_TIMER, 0, 0])
    with pytest.raises(ValueError):
        load_clock(future_seq)
    ragged = dict(good, events=[20, 1, EV_TIMER])
    with pytest.raises(ValueError):
        load_clock(ragged)


# An operation: ("s", delay, arg) schedules at now + delay; ("c", k) cancels the k-th
# scheduled seq; ("p",) pops.
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("s"), st.integers(0, 50), st.integers(0, 1000)),
        st.tuples(st.just("c"), st.integers(0, 60)),
        st.tuples(st.just("p")),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(_ops)
def test_clock_matches_sorted_list_model(ops: list[tuple[object, ...]]) -> None:
    clock = Clock()
    model: list[tuple[int, int, int]] = []  # (time, seq, arg), kept sorted
    seqs: list[int] = []
    now = 0
    for op in ops:
        if op[0] == "s":
            delay, arg = op[1], op[2]
            assert isinstance(delay, int) and isinstance(arg, int)
            seq = clock.schedule(now + delay, EV_TIMER, arg, 0)
            seqs.append(seq)
            model.append((now + delay, seq, arg))
            model.sort()
        elif op[0] == "c":
            k = op[1]
            assert isinstance(k, int)
            if k < len(seqs):
                live = any(m[1] == seqs[k] for m in model)
                assert clock.cancel(seqs[k]) is live
                model = [m for m in model if m[1] != seqs[k]]
        else:
            ev = clock.pop()
            if not model:
                assert ev is None
            else:
                time, seq, arg = model.pop(0)
                assert ev is not None and (ev.time, ev.seq, ev.a) == (time, seq, arg)
                now = time
        assert clock.now == now
        assert clock.pending() == len(model)
        assert clock.peek_time() == (model[0][0] if model else -1)
    state = save_clock(clock)
    assert save_clock(load_clock(state)) == state
