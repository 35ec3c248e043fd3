"""Courier detection from the shape of a tracking number (`POST /v2/carriers/detect`).

Shapes overlap in real life (a 12-digit number is FedEx, but 4PX also issues digits), so
detection returns every candidate, most likely first; no candidate means 4032.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"^1Z[0-9A-Z]{16}$"), ("ups",)),
    (re.compile(r"^9[234]\d{18,20}$"), ("usps",)),
    (re.compile(r"^\d{10}$"), ("dhl",)),
    (re.compile(r"^(\d{12}|\d{15})$"), ("fedex",)),
    (re.compile(r"^E[A-Z]\d{9}CN$"), ("china-ems", "china-post")),
    (re.compile(r"^[A-Z]{2}\d{9}CN$"), ("china-post",)),
    (re.compile(r"^[A-Z]{2}\d{9}GB$"), ("royal-mail",)),
    (re.compile(r"^4PX\d{10,16}CN$"), ("4px",)),
)


def detect_couriers(tracking_number: str) -> list[str]:
    """Courier codes whose number format matches, most likely first; [] if none does."""
    number = tracking_number.strip().upper()
    candidates: list[str] = []
    for pattern, codes in _RULES:
        if pattern.match(number):
            candidates += [code for code in codes if code not in candidates]
    return candidates
