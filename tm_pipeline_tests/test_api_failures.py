"""Telling a broken page from an address that is not the API, on bodies alone (no server needed)."""

from __future__ import annotations

import pytest

from tm_pipeline.api.failures import NOT_ENVELOPE, NOT_JSON, TRUNCATED, body_failure, describe_body

HTML = b"<html><head><title>Sign in</title></head><body>secret-looking body text</body></html>"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (HTML, NOT_ENVELOPE),
        (b"\x00\xff garbage", NOT_ENVELOPE),
        (b'{"status": "ok"}', NOT_ENVELOPE),
        (b"[1, 2, 3]", NOT_ENVELOPE),
        (b'{"meta": {"code": 200, "message": "\\ud800"}, "data": []}', NOT_JSON),  # valid JSON, odd string
        (b'{"meta": {"code": 200}, "data": {"items": [{"id": "a"', NOT_JSON),  # an envelope cut off
        (b' {\n  "meta" : {"code": 200', NOT_JSON),
    ],
    ids=["html", "garbage", "json_without_meta", "json_list", "lone_surrogate", "cut_envelope", "spaced_envelope"],
)
def test_only_bodies_that_cannot_be_an_envelope_are_blamed_on_the_address(body: bytes, expected: str) -> None:
    assert body_failure(body, bytes_received=len(body), content_length=len(body)) == expected


def test_fewer_bytes_than_content_length_is_truncation_whatever_the_body() -> None:
    assert body_failure(HTML[:20], bytes_received=20, content_length=len(HTML)) == TRUNCATED


def test_a_description_names_the_page_title_but_never_repeats_the_body() -> None:
    described = describe_body(HTML, "text/html; charset=utf-8")
    assert "'Sign in'" in described and "text/html" in described
    assert "secret-looking" not in described
    assert "secret-looking" not in describe_body(b'{"echo": "secret-looking"}', "application/json")
