"""The simulated clock: shipments progress, updated_at moves, new trackings arrive mid-paging."""

from __future__ import annotations

from datetime import datetime

import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer

HEADERS = {"Trackingmore-Api-Key": "sandbox-key"}


def by_id(trackings: list[dict]) -> dict[str, dict]:
    return {item["id"]: item for item in trackings}


def test_advancing_reveals_checkpoints_and_moves_updated_at() -> None:
    server = SandboxServer(SandboxConfig(trackings=1500, seed=4, new_trackings_per_day=0))
    before = by_id(server.truth_trackings())
    in_flight = [tid for tid, item in before.items() if item["status"] in ("transit", "pickup")]
    server.advance_clock(24 * 20)
    after = by_id(server.truth_trackings())
    moved = [tid for tid in in_flight if after[tid]["status"] != before[tid]["status"]]
    assert len(moved) > len(in_flight) / 2
    for tid in moved:
        assert after[tid]["updated_at"] > before[tid]["updated_at"]
        if after[tid]["status"] != "expired":  # expiry changes the status, not the checkpoints
            assert after[tid]["lastEvent"] != before[tid]["lastEvent"]
    settled = [
        tid for tid, item in before.items() if item["status"] == "delivered" and not item["track_update"]
    ]
    assert all(after[tid] == before[tid] for tid in settled)


def test_stalled_shipments_expire_after_30_days_without_news() -> None:
    server = SandboxServer(SandboxConfig(trackings=3000, seed=4, new_trackings_per_day=0))
    before = server.truth_trackings()
    server.advance_clock(24 * 45)
    after = by_id(server.truth_trackings())
    expired_now = [i for i in before if i["status"] == "transit" and after[i["id"]]["status"] == "expired"]
    assert expired_now
    assert all(after[i["id"]]["track_update"] is False for i in expired_now)


def test_new_trackings_arrive_at_the_top_of_created_desc_order() -> None:
    server = SandboxServer(SandboxConfig(trackings=500, seed=4, new_trackings_per_day=240))
    old_top = server.truth_trackings()[0]
    result = server.advance_clock(1)
    assert result["created"] == 10
    newest = server.truth_trackings()[: result["created"] + 1]
    assert newest[-1]["id"] == old_top["id"]
    assert all(
        datetime.fromisoformat(i["created_at"]) > datetime.fromisoformat(old_top["created_at"])
        for i in newest[:-1]
    )


def test_clock_is_driven_over_http() -> None:
    with SandboxServer(SandboxConfig(trackings=50, seed=4)).running() as server:
        admin = server.base_url.replace("/v2", "/_sandbox/clock")
        start = requests.get(admin, timeout=5).json()["now"]
        moved = requests.post(admin, json={"advance_hours": 6}, timeout=5).json()
        assert (
            datetime.fromisoformat(moved["now"]) - datetime.fromisoformat(start)
        ).total_seconds() == 6 * 3600
        assert requests.post(admin, json={"advance_hours": "soon"}, timeout=5).status_code == 400


def test_naive_paging_sees_duplicates_when_data_changes_between_pages() -> None:
    config = SandboxConfig(
        trackings=1000,
        seed=4,
        list_rate_per_s=None,
        new_trackings_per_day=3000,
        mutate_every_n_list_requests=1,
        mutate_advance_minutes=10,
    )
    with SandboxServer(config).running() as server, requests.Session() as session:
        seen: list[str] = []
        for page in range(1, 11):
            data = session.get(
                f"{server.base_url}/trackings/get",
                params={"page": page, "limit": 100},
                headers=HEADERS,
                timeout=5,
            ).json()["data"]
            seen += [item["id"] for item in data["items"]]
        assert len(seen) > len(set(seen))  # pages shifted under the client
        assert int(data["total"]) > 1000


def test_update_time_min_finds_exactly_what_changed() -> None:
    config = SandboxConfig(trackings=1500, seed=4, list_rate_per_s=None, new_trackings_per_day=100)
    with SandboxServer(config).running() as server:
        before = by_id(server.truth_trackings())
        mark = int(datetime.fromisoformat(server.stats()["clock"]).timestamp())
        server.advance_clock(12)
        after = by_id(server.truth_trackings())
        changed = {
            tid
            for tid, item in after.items()
            if tid not in before or item["updated_at"] != before[tid]["updated_at"]
        }
        response = requests.get(
            f"{server.base_url}/trackings/get",
            params={"update_time_min": mark + 1, "limit": 2000},
            headers=HEADERS,
            timeout=5,
        )
        listed = {item["id"] for item in response.json()["data"]["items"]}
    fresh_pending = {tid for tid in changed if after[tid]["updated_at"] is None}
    assert changed - fresh_pending == listed
    assert listed


def _served_delivery_days(item: dict) -> float | None:
    """The metric definition applied independently to served JSON."""
    checkpoints = []
    for leg in (item["origin_info"], item.get("destination_info")):
        if isinstance(leg, dict) and leg.get("trackinfo"):
            checkpoints += leg["trackinfo"]
    if item["status"].strip().lower() != "delivered" or not checkpoints:
        return None
    dates = [datetime.fromisoformat(cp["Date"]) for cp in checkpoints]
    delivered = [
        datetime.fromisoformat(cp["Date"])
        for cp in checkpoints
        if cp["checkpoint_status"].lower() == "delivered"
    ]
    return (min(delivered) - min(dates)).total_seconds() / 86400 if delivered else None


def test_ground_truth_matches_served_json_after_the_clock_moves() -> None:
    server = SandboxServer(SandboxConfig(trackings=1200, seed=8))
    server.advance_clock(72)
    served = {item["id"]: _served_delivery_days(item) for item in server.truth_trackings()}
    truth = {row["tracking_id"]: row["delivery_days"] for row in server.expected_metrics()["fct_shipments"]}
    assert served == truth
