"""The v2 endpoints other than the list (§2): create, read, edit, delete, realtime, account, couriers.

Each handler validates the way the §6 table implies (4012 unparsable/missing, 4013 no number,
4014 bad number, 4015 bad courier, 4016 exists, 4017 unknown, 4020 too many, 4032 undetectable,
4033 bad status) and returns a Reply; the server adds auth, rate limits and faults around it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import orjson

from .account import Account
from .config import SandboxConfig
from .couriers import COURIERS, COURIERS_BY_CODE
from .detect import detect_couriers
from .filters import V2_STATUSES, FilterError, ListFilters, parse_filters, predicate
from .protocol import DEFAULT_MESSAGES, Reply
from .shipment import Shipment
from .store import TrackingStore

_NUMBER_RE = re.compile(r"^[A-Za-z0-9-]{5,50}$")
_EDITABLE = (
    "title",
    "logistics_channel",
    "customer_name",
    "customer_email",
    "customer_phone",
    "order_id",
    "comment",
)
_CREATE_EXTRAS = _EDITABLE + ("order_create_time", "destination_code")
# Every optional field of a create body (§2); a create answer echoes those the client sent.
_CREATE_FIELDS = _CREATE_EXTRAS + (
    "tracking_ship_date",
    "tracking_postal_code",
    "tracking_account_number",
    "tracking_destination_country",
    "specialNumberDestination",
    "lang",
    "auto_correct",
)
# PUT status codes the v2 docs allow: 4 = delivered, 7 = exception, 8 = back to the computed status.
_STATUS_OVERRIDES: dict[str, str | None] = {"4": "delivered", "7": "exception", "8": None}


class RequestError(Exception):
    """A meta-coded refusal of one request (or of one item of a bulk request)."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(4012, "request body must be JSON") from None


def _number(raw: object) -> str:
    if raw is None or raw == "":
        raise RequestError(4013)
    if not isinstance(raw, str) or not _NUMBER_RE.match(raw.strip()):
        raise RequestError(4014)
    return raw.strip()


def _carrier(raw: object) -> str:
    if not isinstance(raw, str) or raw.strip().lower() not in COURIERS_BY_CODE:
        raise RequestError(4015)
    return raw.strip().lower()


def _courier_json(code: str) -> dict[str, object]:
    courier = COURIERS_BY_CODE[code]
    return {
        "name": courier.name,
        "code": courier.code,
        "phone": courier.phone,
        "homepage": courier.homepage,
        "type": courier.courier_type,
        "picture": f"//s.trackingmore.com/images/icons/express/{courier.code}.png",
        "name_cn": courier.name_cn,
    }


def _apply_edit(shipment: Shipment, fields: dict[str, object]) -> None:
    """PUT / updatemore semantics: only the editable fields, status limited to 4, 7 and 8."""
    if "status" in fields:
        status = str(fields["status"]).strip()
        if status not in _STATUS_OVERRIDES:
            raise RequestError(4033, "status may only be 4 (delivered), 7 (exception) or 8 (computed)")
        shipment.status_override = _STATUS_OVERRIDES[status]
    if "archived" in fields:
        shipment.archived = str(fields["archived"]).strip().lower() == "true"
    for name in _EDITABLE:
        if name in fields:
            shipment.extras[name] = fields[name]


class TrackingApi:
    """Business logic of the v2 endpoints over one store and account."""

    def __init__(self, config: SandboxConfig, store: TrackingStore, account: Account) -> None:
        self.config = config
        self.store = store
        self.account = account
        self._realtime_at: dict[str, int] = {}

    # --- create ---------------------------------------------------------------------------

    def _create(self, item: object) -> Shipment:
        if not isinstance(item, dict):
            raise RequestError(4012, "each tracking must be a JSON object")
        number = _number(item.get("tracking_number"))
        carrier_raw = item.get("carrier_code")
        if carrier_raw in (None, ""):
            candidates = detect_couriers(number)
            if not candidates:
                raise RequestError(4032)
            carrier = candidates[0]
        else:
            carrier = _carrier(carrier_raw)
        with self.store.lock:
            if self.store.find(carrier, number) is not None:
                raise RequestError(4016)
            charge = self.account.charge_creation()
            if charge != 200:
                raise RequestError(charge)
            extras = {name: item[name] for name in _CREATE_EXTRAS if name in item}
            return self.store.create(carrier, number, extras)

    def _created_json(self, shipment: Shipment, item: object) -> dict[str, object]:
        """What a create answers (§2): the submitted fields echoed, plus `id`, `created_at`, `status`.

        `tracking_number` and `carrier_code` are the stored ones (trimmed; the carrier lower-cased,
        or detected when none was sent), so a client can match the answer to what it sent."""
        submitted = item if isinstance(item, dict) else {}
        echoed = {name: submitted[name] for name in _CREATE_FIELDS if name in submitted}
        return {
            "id": shipment.tracking_id,
            "tracking_number": shipment.tracking_number,
            "carrier_code": shipment.carrier_code,
            **echoed,
            "status": "pending",
            "created_at": self.store.now_iso(),
        }

    def post(self, body: bytes) -> Reply:
        """POST /v2/trackings/post: one tracking; a missing carrier is detected (else 4032)."""
        item = parse_json(body)
        return Reply(200, self._created_json(self._create(item), item))

    def batch(self, body: bytes) -> Reply:
        """POST /v2/trackings/batch: meta 200 when every item was added, 201 when some were refused
        (each listed in `data.errors`), as §2 says and v2 clients accept."""
        items = self._bulk_items(body, self.config.max_batch_items)
        added, errors = [], []
        for item in items:
            try:
                added.append(self._created_json(self._create(item), item))
            except RequestError as refused:
                errors.append(self._item_error(item, refused))
        data = {"submitted": len(items), "added": len(added), "trackings": added, "errors": errors}
        return Reply(201 if errors else 200, data)

    # --- read, edit, delete ---------------------------------------------------------------

    def _existing(self, carrier_raw: object, number_raw: object, missing_code: int) -> Shipment:
        number = _number(number_raw)
        carrier = _carrier(carrier_raw)
        shipment = self.store.find(carrier, number)
        if shipment is None:
            raise RequestError(missing_code)
        return shipment

    def get_one(self, carrier_code: str, tracking_number: str) -> Reply:
        """GET /v2/trackings/{carrier}/{number}[/{lang}]: 4031 when it was never created."""
        with self.store.lock:
            shipment = self._existing(carrier_code, tracking_number, 4031)
            return Reply(200, self.store.tracking_json(shipment.tracking_id))

    def put_one(self, carrier_code: str, tracking_number: str, body: bytes) -> Reply:
        fields = parse_json(body) if body.strip() else {}
        if not isinstance(fields, dict):
            raise RequestError(4012, "body must be a JSON object")
        with self.store.lock:
            shipment = self._existing(carrier_code, tracking_number, 4017)
            _apply_edit(shipment, fields)
            self.store.edited(shipment)
            return Reply(200, self.store.tracking_json(shipment.tracking_id))

    def delete_one(self, carrier_code: str, tracking_number: str) -> Reply:
        with self.store.lock:
            self.store.delete(self._existing(carrier_code, tracking_number, 4017))
        return Reply(200, [])

    def _bulk_items(self, body: bytes, max_items: int) -> list[object]:
        items = parse_json(body)
        if not isinstance(items, list) or not items:
            raise RequestError(4012, "body must be a non-empty JSON array")
        if len(items) > max_items:
            raise RequestError(4020, f"at most {max_items} items per request")
        return items

    @staticmethod
    def _item_error(item: object, refused: RequestError) -> dict[str, object]:
        fields = item if isinstance(item, dict) else {}
        return {
            "tracking_number": fields.get("tracking_number"),
            "carrier_code": fields.get("carrier_code"),
            "code": refused.code,
            "message": refused.message or DEFAULT_MESSAGES[refused.code],
        }

    def _bulk(self, body: bytes, verb: str, action: Callable[[Shipment, dict[str, object]], None]) -> Reply:
        items = self._bulk_items(body, self.config.max_bulk_items)
        done, errors = [], []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise RequestError(4012, "each item must be a JSON object")
                with self.store.lock:
                    shipment = self._existing(item.get("carrier_code"), item.get("tracking_number"), 4017)
                    action(shipment, item)
                done.append(
                    {"tracking_number": shipment.tracking_number, "carrier_code": shipment.carrier_code}
                )
            except RequestError as refused:
                errors.append(self._item_error(item, refused))
        return Reply(200, {"submitted": len(items), verb: len(done), "trackings": done, "errors": errors})

    def update_more(self, body: bytes) -> Reply:
        """POST /v2/trackings/updatemore: per-item edits, per-item errors."""

        def edit(shipment: Shipment, fields: dict[str, object]) -> None:
            _apply_edit(shipment, fields)
            self.store.edited(shipment)

        return self._bulk(body, "updated", edit)

    def delete_many(self, body: bytes) -> Reply:
        """POST /v2/trackings/delete: `[{tracking_number, carrier_code}, ...]`."""
        return self._bulk(body, "deleted", lambda shipment, _fields: self.store.delete(shipment))

    # --- realtime -------------------------------------------------------------------------

    def realtime(self, body: bytes) -> Reply:
        """POST /v2/trackings/realtime: a live courier query, unknown numbers are created first.

        A shipment is refreshed at most once per `realtime_shipment_interval_s` of simulated time;
        sooner, the answer is 202 with the stored (not re-fetched) tracking.
        """
        if not self.account.realtime_enabled:
            raise RequestError(4018)
        fields = parse_json(body)
        if not isinstance(fields, dict):
            raise RequestError(4012, "body must be a JSON object")
        number = _number(fields.get("tracking_number"))
        if fields.get("carrier_code") in (None, ""):
            raise RequestError(4012, "carrier_code is required")
        carrier = _carrier(fields.get("carrier_code"))
        with self.store.lock:
            shipment = self.store.find(carrier, number) or self._create(fields)
            last = self._realtime_at.get(shipment.tracking_id)
            if last is not None and self.store.now_ts - last < self.config.realtime_shipment_interval_s:
                return Reply(202, {"items": [self.store.tracking_json(shipment.tracking_id)]})
            self._realtime_at[shipment.tracking_id] = self.store.now_ts
            live = shipment.live_view(self.store.now_ts)
            item = orjson.loads(self.store.render_bytes(live))
        return Reply(200, {"items": [item]})

    # --- account and couriers -------------------------------------------------------------

    def user_info(self) -> Reply:
        regtime = int(self.config.start_at.timestamp()) - 400 * 86400
        balance = self.account.balance
        quota = self.account.quota
        return Reply(
            200,
            {
                "email": "sandbox@example.com",
                "regtime": str(regtime),
                "phone": "",
                "money": f"{balance if balance is not None else 100000:.2f}",
                "track_number": quota if quota is not None else 1000000,
            },
        )

    def status_number(self, query: dict[str, str]) -> Reply:
        """GET /v2/trackings/getstatusnumber: count per v2 status (creation/order time filters only)."""
        try:
            parsed = parse_filters(
                {k: v for k, v in query.items() if k.startswith(("created_at", "order_created"))}
            )
        except FilterError as refused:
            raise RequestError(refused.code, str(refused)) from None
        with self.store.lock:
            matches = predicate(parsed, self.config.account_utc_offset_h) if parsed != ListFilters() else None
            counts = Counter(s.status for s in self.store.shipments.values() if matches is None or matches(s))
        return Reply(200, {status: counts.get(status, 0) for status in V2_STATUSES})

    def carriers(self) -> Reply:
        return Reply(200, [_courier_json(courier.code) for courier in COURIERS])

    def detect(self, body: bytes) -> Reply:
        fields = parse_json(body)
        number = fields.get("tracking_number") if isinstance(fields, dict) else None
        if not isinstance(number, str) or not number.strip():
            raise RequestError(4013)
        candidates = detect_couriers(number)
        if not candidates:
            raise RequestError(4032)
        return Reply(200, [_courier_json(code) for code in candidates])
