"""A TrackingMore v2 client written only from the TrackingMore v2 API reference, for sandbox tests.

It knows nothing of the sandbox's code: if the sandbox and this client agree, the sandbox
speaks the documented protocol. It raises on any meta code other than 200/201 unless told
which codes to accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import requests


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class SpecClient:
    base_url: str
    api_key: str
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers.update(
            {"Trackingmore-Api-Key": self.api_key, "Content-Type": "application/json"}
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: object = None,
        accept: Iterable[int] = (200, 201),
    ) -> tuple[int, object]:
        """One request; returns (meta.code, data) or raises ApiError for codes not in `accept`."""
        response = self.session.request(
            method, self.base_url + path, params=params, json=json, timeout=self.timeout_s
        )
        body = response.json()
        code = body["meta"]["code"]
        if code not in set(accept):
            raise ApiError(code, body["meta"]["message"])
        return code, body["data"]

    def create(self, tracking_number: str, carrier_code: str, **extra: object) -> dict:
        return self.call(
            "POST",
            "/trackings/post",
            json={"tracking_number": tracking_number, "carrier_code": carrier_code, **extra},
        )[1]

    def get(self, carrier_code: str, tracking_number: str) -> dict:
        return self.call("GET", f"/trackings/{carrier_code}/{tracking_number}")[1]

    def update(self, carrier_code: str, tracking_number: str, **fields: object) -> dict:
        return self.call("PUT", f"/trackings/{carrier_code}/{tracking_number}", json=fields)[1]

    def delete(self, carrier_code: str, tracking_number: str) -> object:
        return self.call("DELETE", f"/trackings/{carrier_code}/{tracking_number}")[1]

    def batch(self, trackings: list[dict]) -> dict:
        return self.call("POST", "/trackings/batch", json=trackings, accept=(200, 201))[1]

    def detect(self, tracking_number: str) -> list[dict]:
        return self.call("POST", "/carriers/detect", json={"tracking_number": tracking_number})[1]

    def list_all(self, limit: int = 2000, **filters: object) -> Iterator[dict]:
        """Pages until ceil(total/limit) or an empty page; 4031 means 'nothing to list'."""
        page = 1
        while True:
            code, data = self.call(
                "GET", "/trackings/get", params={"page": page, "limit": limit, **filters}, accept=(200, 4031)
            )
            if code == 4031 or not data["items"]:
                return
            yield from data["items"]
            if page * limit >= int(data["total"]):
                return
            page += 1
