"""The per-shipment create codes of spec §6, judged through the table in api/create_codes.py."""

from __future__ import annotations

import pytest

from tm_pipeline.api.create_codes import BY_RESULT, ITEM_TABLE, REGISTERED, Result, Severity, judge_item_code
from tm_pipeline.api.create_requests import V2_CREATE


@pytest.mark.parametrize(
    ("code", "result", "severity"),
    [
        (200, Result.CREATED, Severity.OK),
        (4016, Result.ALREADY_EXISTS, Severity.OK),
        (4013, Result.MISSING_NUMBER, Severity.WARN),
        (4014, Result.INVALID_NUMBER, Severity.WARN),
        (4015, Result.INVALID_CARRIER, Severity.WARN),
        (4032, Result.CARRIER_UNDETECTED, Severity.WARN),
        (4019, Result.BALANCE_INSUFFICIENT, Severity.STOP),
        (4021, Result.QUOTA_EXHAUSTED, Severity.STOP),
        (4020, Result.REFUSED, Severity.WARN),
        (9999, Result.REFUSED, Severity.WARN),
    ],
)
def test_each_create_code_is_judged_by_the_table(code: int, result: Result, severity: Severity) -> None:
    judgement = judge_item_code(code)
    assert (judgement.result, judgement.severity) == (result, severity)


def test_every_result_has_one_row_and_every_problem_says_what_to_do() -> None:
    assert sorted(j.result for j in ITEM_TABLE) == sorted(Result)
    assert set(BY_RESULT) == set(Result)
    assert all(j.what_to_do for j in ITEM_TABLE if j.severity is not Severity.OK)
    assert {j.result for j in ITEM_TABLE if j.severity is Severity.OK} == REGISTERED
    codes = [code for j in ITEM_TABLE for code in j.codes]
    assert len(codes) == len(set(codes)), "a code must mean one result"


def test_the_v2_batch_answer_gives_one_answer_per_shipment() -> None:
    data = {
        "submitted": 3, "added": 1,
        "trackings": [{"id": "a" * 32, "tracking_number": "N1", "carrier_code": "ups", "status": "pending"}],
        "errors": [{"tracking_number": "N2", "carrier_code": "ups", "code": 4016, "message": "exists"},
                   {"tracking_number": "N3", "code": "4021", "message": "quota"}],
    }
    answers = {a.tracking_number: (a.code, a.tracking_id) for a in V2_CREATE.answers(data)}
    assert answers == {"N1": (200, "a" * 32), "N2": (4016, None), "N3": (4021, None)}
    assert V2_CREATE.answers([]) == [] and V2_CREATE.answers({"errors": [{"code": 4014}]}) == []
    assert V2_CREATE.body([{"tracking_number": "N1", "carrier_code": "ups", "title": ""}]) == [
        {"tracking_number": "N1", "carrier_code": "ups"}
    ]
