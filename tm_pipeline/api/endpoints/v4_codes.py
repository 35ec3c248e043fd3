"""The TrackingMore v4 `meta.code` table (TrackingMore v4 API reference, error codes) as data.

The same judgement as v2's seed table (api/status_codes.py): a category for the checks and an
action for the extractor. v4 sends no `meta.type`; the column stays empty. v4 mirrors the class
of error in the HTTP status (400, 401, 429, 500) but the meta code decides, as in v2.
"""

from __future__ import annotations

from tm_pipeline.api.status_codes import Action, Category, StatusCode

_AUTH_HINT = (
    "Check TRACKINGMORE_API_KEY: copy the key again from the TrackingMore console "
    "(Developer > API key), and make sure it is a key of an account with v4 API access."
)
_REQUEST_HINT = "This is a bug in the request the pipeline sent; report it with the ledger row."

_STOP_ON_REQUEST = (
    (400, "wrong request type or method"),
    (4101, "tracking already exists"),
    (4102, "tracking does not exist (create it first)"),
    (4103, "more than 40 shipments in one call"),
    (4110, "tracking_number invalid"),
    (4111, "tracking_number required"),
    (4112, "invalid tracking id"),
    (4113, "retrack only allowed for expired trackings"),
    (4120, "courier_code invalid"),
    (4122, "courier-specific required field missing or invalid"),
    (4130, "field name format invalid"),
    (4160, "awb_number missing or malformed"),
    (4161, "airline not supported"),
    (4162, "AWB batch over 20"),
    (4163, "AWB delete failed"),
    (4164, "AWB create failed"),
    (4165, "AWB not created"),
    (4166, "AWB already exists"),
    (4167, "AWB request failed"),
    (4168, "AWB request failed"),
)

V4_CODE_TABLE: dict[int, StatusCode] = {
    s.code: s
    for s in (
        StatusCode(200, "", "success", Category.OK, Action.ACCEPT),
        *(StatusCode(code, "", meaning, Category.REQUEST, Action.STOP, _REQUEST_HINT)
          for code, meaning in _STOP_ON_REQUEST),
        StatusCode(4121, "", "courier cannot be detected", Category.DETECTION, Action.STOP,
                   "Pass courier_code explicitly for this tracking number."),
        StatusCode(4190, "", "plan quota reached", Category.BILLING, Action.STOP,
                   "Upgrade the TrackingMore plan or wait for the quota to renew, then run again."),
        StatusCode(401, "", "authentication failed or no permission", Category.AUTH, Action.STOP, _AUTH_HINT),
        StatusCode(403, "", "forbidden", Category.AUTH, Action.STOP, _AUTH_HINT),
        StatusCode(404, "", "page or path not found", Category.REQUEST, Action.STOP,
                   "Check TRACKINGMORE_BASE_URL: for v4 it must end in /v4."),
        StatusCode(429, "", "too many requests", Category.RATE_LIMITED, Action.PAUSE_THEN_RETRY),
        StatusCode(511, "", "server error", Category.TRANSIENT, Action.RETRY_WITH_BACKOFF),
        StatusCode(512, "", "server error", Category.TRANSIENT, Action.RETRY_WITH_BACKOFF),
        StatusCode(513, "", "server error", Category.TRANSIENT, Action.RETRY_WITH_BACKOFF),
    )
}
