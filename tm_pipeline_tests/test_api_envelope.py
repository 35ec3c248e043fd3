"""Valid JSON is data, never a transport failure: lone surrogates decode, items keep their bytes."""

from __future__ import annotations

from tm_pipeline.api.client import parse_envelope
from tm_pipeline.api.envelope import LIST_ENVELOPE_DECODER, ListPage, replace_lone_surrogates


def _page(*items: bytes) -> bytes:
    return b'{"meta":{"code":200,"type":"Success"},"data":{"page":1,"limit":2000,"total":"3","items":[' + \
        b", ".join(items) + b"]}}"


def test_a_lone_surrogate_is_not_a_failure_and_items_keep_their_original_bytes() -> None:
    items = (b'{"id":"a","tracking_number":"\\ud800RR1"}', b'{"id":"b"}', b'{"id":"c","comment":"x\\udc00"}')
    attempt = parse_envelope(200, _page(*items), 12.0, LIST_ENVELOPE_DECODER)
    assert attempt.failure is None
    assert attempt.meta_code == 200
    assert isinstance(attempt.data, ListPage)
    assert [bytes(item) for item in attempt.data.items] == list(items)


def test_valid_pairs_and_escaped_backslashes_are_left_alone() -> None:
    body = _page(b'{"id":"a","e":"\\ud83d\\ude00","t":"\\\\ud800"}')
    assert replace_lone_surrogates(body) is body
    sanitised = replace_lone_surrogates(b'"\\ud800\\ud83d\\ude00\\\\udc00\\udc00"')
    assert sanitised == b'"\\ufffd\\ud83d\\ude00\\\\udc00\\ufffd"'


def test_a_body_that_is_not_json_is_still_not_json() -> None:
    truncated = _page(b'{"id":"a","tracking_number":"\\ud800RR1"}')[:-10]
    assert parse_envelope(200, truncated, 1.0, LIST_ENVELOPE_DECODER).failure == "not_json"
