import logging
import random

import pytest

from tm_pipeline.api.pacer import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_first_request_starts_at_once() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0.0
    assert clock.slept == []


def test_starts_are_spaced_by_the_interval_not_after_the_response() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    starts = []
    for latency in (0.3, 0.7, 0.1):
        pacer.wait_turn()
        starts.append(clock.now)
        clock.now += latency  # the response takes this long; it must not add to the spacing
    assert [round(b - a, 9) for a, b in zip(starts, starts[1:], strict=False)] == [1.0, 1.0]


def test_slow_responses_cost_no_extra_wait() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()
    clock.now += 1.5
    assert pacer.wait_turn() == 0.0


def test_hold_off_pushes_the_next_start() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()
    pacer.hold_off(120.0)
    assert pacer.wait_turn() == 120.0


def test_no_rate_means_no_pacing() -> None:
    clock = FakeClock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert pacer.wait_turn() == 0.0


def test_a_new_pacer_for_the_same_key_honours_the_previous_runs_budget(tmp_path) -> None:
    clock = FakeClock()
    wall = {"now": 1_000.0}
    state = tmp_path / "pacer-key.txt"

    def wall_clock() -> float:
        return wall["now"] + (clock.now - 100.0)

    first = Pacer(1.0, margin_s=0.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=wall_clock)
    first.wait_turn()
    first.hold_off(120.0)  # a 429: the account must stay quiet for two minutes, whoever asks next

    clock.now += 30.0
    second = Pacer(1.0, margin_s=0.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=wall_clock)
    assert round(second.wait_turn(), 6) == 90.0


# --- spacing sends, not grants (issue 9) -------------------------------------------------------


def test_a_request_held_after_its_grant_pushes_the_next_start_by_as_much() -> None:
    """The prefetch thread can be held (GIL) between the grant and the write: space from the write."""
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()
    pacer.note_request(sent_at=clock.now + 0.3, new_connection=False, answered_at=clock.now + 0.35)
    clock.now += 0.5
    assert round(pacer.wait_turn(), 6) == 0.81  # 0.3 held + 1.0 interval + 0.01 margin - 0.5 elapsed


def test_a_new_connections_request_spaces_the_next_from_its_answer() -> None:
    """Its arrival is unknown (a handshake came first), but it cannot be later than the answer."""
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep)
    granted = clock.now
    pacer.wait_turn()
    pacer.note_request(sent_at=granted, new_connection=True, answered_at=granted + 0.4)
    pacer.wait_turn()
    assert round(clock.now - granted, 6) == 1.4


def test_a_failed_attempt_spaces_the_next_from_when_it_failed() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()
    clock.now += 2.0  # e.g. a reset after the server had the request
    failed_at = clock.now
    pacer.note_request(sent_at=None, new_connection=True, answered_at=None)
    pacer.wait_turn()
    assert round(clock.now - failed_at, 6) == 1.0


def test_a_report_never_pulls_the_next_start_earlier_than_a_pause() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    pacer.wait_turn()
    pacer.hold_off(120.0)
    pacer.note_request(sent_at=clock.now, new_connection=False, answered_at=clock.now + 0.1)
    assert pacer.wait_turn() == 120.0


def _arrival_gaps(pacer: Pacer, clock: FakeClock, rng: random.Random, requests: int) -> tuple[list[float], float]:
    """Drive `pacer` through a hostile but physical network model; returns the server's arrival gaps
    and the elapsed time. On a reused connection a request arrives 5-8 ms after its write; a new
    connection (every one in eight, and the first) adds a 150 ms handshake first; the answer comes
    20-300 ms after the arrival; the thread is held up to 40 ms between grant and write."""
    arrivals = []
    started = clock.now
    for number in range(requests):
        pacer.wait_turn()
        clock.now += rng.uniform(0.0, 0.04)
        sent_at = clock.now
        new_connection = number == 0 or rng.random() < 1 / 8
        arrived_at = sent_at + (0.15 if new_connection else 0.0) + rng.uniform(0.005, 0.008)
        clock.now = arrived_at + rng.uniform(0.02, 0.3)
        pacer.note_request(sent_at, new_connection, answered_at=clock.now)
        arrivals.append(arrived_at)
    return [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)], clock.now - started


def test_arrivals_at_the_server_stay_an_interval_apart_under_a_hostile_network() -> None:
    clock = FakeClock()
    gaps, _ = _arrival_gaps(Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep), clock, random.Random(5), 500)
    assert min(gaps) >= 1.0


def test_spacing_grants_alone_lets_arrivals_come_too_close() -> None:
    """The same model with a pacer that is never told about sends: the rule above is what makes it safe."""
    clock = FakeClock()
    grants_only = Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep)
    grants_only.note_request = lambda *_args, **_kwargs: None  # type: ignore[method-assign]
    gaps, _ = _arrival_gaps(grants_only, clock, random.Random(5), 500)
    assert min(gaps) < 1.0


def test_a_new_connection_costs_one_latency_not_one_per_request() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep)
    starts = []
    for number in range(11):
        pacer.wait_turn()
        starts.append(clock.now)
        pacer.note_request(sent_at=clock.now, new_connection=number == 0, answered_at=clock.now + 0.3)
        clock.now += 0.3
    gaps = [round(later - earlier, 6) for earlier, later in zip(starts, starts[1:], strict=False)]
    assert gaps == [1.3] + [1.01] * 9


# --- cross-run memory and saying why it waits ----------------------------------------------------


def test_the_next_run_honours_a_new_connections_answer_time(tmp_path) -> None:
    clock = FakeClock()
    state = tmp_path / "pacer-key.txt"
    first = Pacer(1.0, margin_s=0.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    first.wait_turn()
    first.note_request(sent_at=clock.now, new_connection=True, answered_at=clock.now + 0.5)
    clock.now += 0.6  # the run ends; the next process starts at once
    second = Pacer(1.0, margin_s=0.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    assert round(second.wait_turn(), 6) == 0.9


def test_a_state_file_of_an_earlier_version_is_still_honoured(tmp_path) -> None:
    clock = FakeClock()
    state = tmp_path / "pacer-key.txt"
    state.write_text(f"{clock.now + 30.0:.6f}\n")
    pacer = Pacer(1.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    assert round(pacer.wait_turn(), 6) == 30.0


def test_a_long_wait_after_a_429_is_logged_with_its_reason_even_in_the_next_run(tmp_path, caplog) -> None:
    clock = FakeClock()
    state = tmp_path / "pacer-key.txt"
    first = Pacer(1.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    first.wait_turn()
    first.hold_off(120.0, "the API asked for a pause after a 429 at 12:00:00 UTC", warn=True)
    clock.now += 2.0
    second = Pacer(1.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    with caplog.at_level(logging.INFO, logger="tm_pipeline"):
        second.wait_turn()
        second.wait_turn()  # an ordinary 1 s turn: not worth a line
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "waiting 118 s: the API asked for a pause after a 429 at 12:00:00 UTC (remembered from an earlier run)",
        )
    ]


def test_a_remembered_budget_without_a_reason_says_where_it_comes_from(tmp_path, caplog) -> None:
    clock = FakeClock()
    state = tmp_path / "pacer-key.txt"
    state.write_text(f"{clock.now + 5.0:.6f}\n")
    pacer = Pacer(1.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    with caplog.at_level(logging.INFO, logger="tm_pipeline"):
        pacer.wait_turn()
    assert [r.getMessage() for r in caplog.records] == [
        "waiting 5 s: this API key's request budget, remembered from an earlier run"
    ]


def test_a_quick_answer_on_a_reused_connection_needs_no_margin() -> None:
    """The request arrived before it was answered, so the answer bounds the arrival without jitter."""
    clock = FakeClock()
    pacer = Pacer(1.0, margin_s=0.01, clock=clock, sleep=clock.sleep)
    granted = clock.now
    pacer.wait_turn()
    pacer.note_request(sent_at=granted, new_connection=False, answered_at=granted + 0.004)
    pacer.wait_turn()
    assert round(clock.now - granted, 6) == 1.004


def test_a_run_killed_during_a_429_pause_leaves_the_pause_and_its_reason_behind(tmp_path, caplog) -> None:
    class Killed(Exception):
        pass

    def killed(_seconds: float) -> None:
        raise Killed  # the process dies while it sleeps

    clock = FakeClock()
    state = tmp_path / "pacer-key.txt"
    first = Pacer(1.0, state_file=state, clock=clock, sleep=killed, wall_clock=clock)
    first.wait_turn()
    first.hold_off(120.0, "the API asked for a pause after a 429 at 12:00:00 UTC", warn=True)
    with pytest.raises(Killed):
        first.wait_turn()
    second = Pacer(1.0, state_file=state, clock=clock, sleep=clock.sleep, wall_clock=clock)
    with caplog.at_level(logging.INFO, logger="tm_pipeline"):
        assert second.wait_turn() >= 120.0
    assert "after a 429 at 12:00:00 UTC" in caplog.records[0].getMessage()
