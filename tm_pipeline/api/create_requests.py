"""How an API version creates trackings in bulk: paths, limits, body and answer shapes, as one value.

The registration stage speaks only through a `CreateApi`, so another version is one more instance,
not a change to the stage: v4 (`POST /v4/trackings/batch`, `courier_code`, answers
`data={success:[...], error:[{tracking_number, courier_code, errorCode, errorMessage}]}`, §10.2)
needs its own `body`/`answers` functions and code table, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ItemAnswer:
    """What the API said about one shipment of a batch: `code` 200 when it was created."""

    tracking_number: str
    carrier_code: str | None
    code: int
    message: str
    tracking_id: str | None = None


@dataclass(frozen=True)
class CreateApi:
    """One API version's bulk create, its courier detection and the lookup that settles an unknown outcome."""

    batch_path: str
    max_batch_items: int
    detect_path: str
    lookup_path: str  # the list endpoint, filtered by numbers: which of a batch exist already
    max_lookup_numbers: int
    body: Callable[[Sequence[Mapping[str, str]]], list[dict[str, str]]]
    answers: Callable[[Any], list[ItemAnswer]]
    detected_codes: Callable[[Any], list[str]]
    lookup_params: Callable[[Sequence[str]], dict[str, Any]]
    found: Callable[[Any], list[tuple[str, str, str]]]  # (tracking_number, carrier_code, id) of lookup items


def _v2_body(shipments: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Each element as §2 names its fields; blank optional fields are left out, not sent empty."""
    return [{name: value for name, value in shipment.items() if value != ""} for shipment in shipments]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _v2_answers(data: Any) -> list[ItemAnswer]:
    """`data={submitted, added, trackings:[created], errors:[{tracking_number, carrier_code, code, message}]}`."""
    if not isinstance(data, dict):
        return []
    answers = []
    for created in data.get("trackings") or []:
        if isinstance(created, dict) and isinstance(created.get("tracking_number"), str):
            answers.append(
                ItemAnswer(created["tracking_number"], _text(created.get("carrier_code")), 200, "created",
                           _text(created.get("id")))
            )
    for refused in data.get("errors") or []:
        if isinstance(refused, dict) and isinstance(refused.get("tracking_number"), str):
            try:
                code = int(refused.get("code"))  # type: ignore[arg-type]  # checked by the except
            except (TypeError, ValueError):
                code = 0
            answers.append(
                ItemAnswer(refused["tracking_number"], _text(refused.get("carrier_code")), code,
                           str(refused.get("message") or ""))
            )
    return answers


def _v2_detected(data: Any) -> list[str]:
    """`data=[{name, code, ...}]`, most likely first."""
    if not isinstance(data, list):
        return []
    return [item["code"] for item in data if isinstance(item, dict) and isinstance(item.get("code"), str)]


def _v2_lookup_params(numbers: Sequence[str]) -> dict[str, Any]:
    return {"numbers": ",".join(numbers), "limit": len(numbers), "page": 1}


def _v2_found(data: Any) -> list[tuple[str, str, str]]:
    items = data.get("items") if isinstance(data, dict) else None
    found = []
    for item in items or []:
        if isinstance(item, dict):
            number, carrier, tracking_id = item.get("tracking_number"), item.get("carrier_code"), item.get("id")
            if isinstance(number, str) and isinstance(carrier, str):
                found.append((number, carrier, tracking_id if isinstance(tracking_id, str) else ""))
    return found


V2_CREATE = CreateApi(
    batch_path="/trackings/batch",
    max_batch_items=40,  # §2: at most 40 per call
    detect_path="/carriers/detect",
    lookup_path="/trackings/get",
    max_lookup_numbers=40,  # §3.1: `numbers` takes at most 40
    body=_v2_body,
    answers=_v2_answers,
    detected_codes=_v2_detected,
    lookup_params=_v2_lookup_params,
    found=_v2_found,
)
