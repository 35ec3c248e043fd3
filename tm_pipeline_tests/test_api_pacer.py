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
