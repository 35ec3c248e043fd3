import pytest

from tm_pipeline.api.status_codes import SEED_TABLE, Action, Category, classify

SEED_CODES = [200, 201, 202, 401, 4001, 4002, 4012, 4013, 4014, 4015, 4016, 4017, 4018, 4019, 4020, 4021,
              4031, 4032, 4033, 402, 403, 404, 405, 409, 429, 500, 503]


def test_every_seed_code_is_in_the_table() -> None:
    assert sorted(SEED_TABLE) == sorted(SEED_CODES)


@pytest.mark.parametrize("code", [401, 4001, 4002, 403])
def test_auth_codes_stop_with_advice_about_the_key(code: int) -> None:
    status = classify(code)
    assert (status.category, status.action) == (Category.AUTH, Action.STOP)
    assert "TRACKINGMORE_API_KEY" in status.what_to_do


@pytest.mark.parametrize("code", [4019, 4021, 402])
def test_billing_codes_stop(code: int) -> None:
    assert classify(code).action is Action.STOP
    assert classify(code).category is Category.BILLING


def test_4031_is_an_empty_result_not_an_error() -> None:
    assert classify(4031).action is Action.TREAT_AS_EMPTY


def test_429_pauses_and_5xx_retry() -> None:
    assert classify(429).action is Action.PAUSE_THEN_RETRY
    for code in (500, 502, 503, 504):
        assert classify(code).action is Action.RETRY_WITH_BACKOFF


def test_unknown_code_stops_rather_than_guessing() -> None:
    assert classify(4999).action is Action.STOP
