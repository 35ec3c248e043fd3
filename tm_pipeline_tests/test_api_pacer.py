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
