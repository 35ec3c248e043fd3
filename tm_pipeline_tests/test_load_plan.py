"""When a load may merge and when it must rebuild: the plan over a lake's audit and the files loaded.

Plain data in, plan out (files are only stat-ed): the compaction manifests of the `lakeplus` branch are
built here by hand with the fields its contract names (`kind`, `compacts`, status `compacted`).
"""

from __future__ import annotations

from pathlib import Path

from tm_pipeline.landing.integrity import CommittedFile, LakeAudit
from tm_pipeline.landing.lake import COMPLETE, Lake, Manifest
from tm_pipeline.load.accounts import AccountLake
from tm_pipeline.load.bookkeeping import API_CALLS, FULL, INCREMENTAL, TRACKINGS, LoadedFile
from tm_pipeline.load.plan import AccountFile, plan_load


def _manifest(extraction_id: str, status: str = COMPLETE, **contract: object) -> Manifest:
    manifest = Manifest(extraction_id=extraction_id, window_key="updated", params={}, status=status)
    for name, value in contract.items():
        setattr(manifest, name, value)  # the compaction fields, until the lakeplus branch adds them
    return manifest


def _page(lake: Lake, folder: str, window: str = "updated") -> Path:
    return lake.root / "trackings" / f"window={window}" / folder / "page-000001.parquet"


def _calls(lake: Lake, folder: str) -> Path:
    return lake.root / "api_calls" / folder / "calls-00000001-page-000001.parquet"


def _audit(lake: Lake, manifests: list[Manifest], files: dict[Path, str]) -> LakeAudit:
    audit = LakeAudit(manifests=manifests)
    for path, extraction_id in files.items():
        (audit.trackings_files if "trackings" in path.parts else audit.api_calls_files).append(path)
        audit.committed[path] = CommittedFile(extraction_id, 1, "sha")
    return audit


def _default(lake: Lake, audit: LakeAudit) -> list[AccountLake]:
    return [AccountLake("default", lake, audit)]


def _paths(files: dict[str, list[AccountFile]]) -> dict[str, list[Path]]:
    return {kind: [path for _, path in listed] for kind, listed in files.items()}


def _loaded(lake: Lake, files: dict[Path, str]) -> dict[str, LoadedFile]:
    return {
        lake.relative(path): LoadedFile(
            lake.relative(path), TRACKINGS if "trackings" in path.parts else API_CALLS, extraction_id, "sha", 1, 10, 1
        )
        for path, extraction_id in files.items()
    }


def test_a_compaction_of_loaded_extractions_is_recorded_not_reloaded(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    old = {_page(lake, "extraction=e1"): "e1", _calls(lake, "extraction=e1"): "e1",
           _page(lake, "extraction=e2"): "e2", _calls(lake, "extraction=e2"): "e2"}
    part, ledger_part = _page(lake, "compaction=c1").with_name("part-00001.parquet"), _calls(lake, "compaction=c1")
    new = {_page(lake, "extraction=e3"): "e3", _calls(lake, "extraction=e3"): "e3"}
    manifests = [
        _manifest("e1", "compacted", compacted_into="c1"), _manifest("e2", "compacted", compacted_into="c1"),
        _manifest("c1", kind="compaction", compacts=["e1", "e2"]), _manifest("e3"),
    ]
    # The old page files are gone (deleted after the compaction); the parts and e3 are verified.
    audit = _audit(lake, manifests, {part: "c1", ledger_part: "c1", **new})

    plan = plan_load(_default(lake, audit), _loaded(lake, old), full_load=False)

    assert plan.mode == INCREMENTAL, plan.full_reason
    assert _paths(plan.new_files) == {
        TRACKINGS: [_page(lake, "extraction=e3")], API_CALLS: [_calls(lake, "extraction=e3")]
    }
    assert _paths(plan.already_loaded) == {TRACKINGS: [part], API_CALLS: [ledger_part]}
    assert plan.retired == sorted(lake.relative(path) for path in old)


def test_a_compaction_of_an_extraction_never_loaded_rebuilds_in_full(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    old = {_page(lake, "extraction=e1"): "e1"}
    part = _page(lake, "compaction=c1").with_name("part-00001.parquet")
    manifests = [
        _manifest("e1", "compacted", compacted_into="c1"), _manifest("e9", "compacted", compacted_into="c1"),
        _manifest("c1", kind="compaction", compacts=["e1", "e9"]),
    ]
    plan = plan_load(_default(lake, _audit(lake, manifests, {part: "c1"})), _loaded(lake, old), full_load=False)

    assert plan.mode == FULL
    assert "compaction c1" in plan.full_reason and "e9" in plan.full_reason
    assert _paths(plan.new_files)[TRACKINGS] == [part]


def test_a_loaded_file_that_vanished_without_a_compaction_rebuilds_in_full(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    kept, lost = _page(lake, "extraction=e1"), _page(lake, "extraction=e2")
    audit = _audit(lake, [_manifest("e1"), _manifest("e2")], {kept: "e1"})

    plan = plan_load(_default(lake, audit), _loaded(lake, {kept: "e1", lost: "e2"}), full_load=False)

    assert plan.mode == FULL and lake.relative(lost) in plan.full_reason
    assert _paths(plan.new_files)[TRACKINGS] == [kept], "a full rebuild reads every verified file"


def test_two_accounts_files_at_the_same_relative_path_are_two_files(tmp_path: Path) -> None:
    """Each account's lake is its own; the record names files relative to the top lake, so the
    same extraction folder in two accounts' lakes is loaded (and recorded) once per account."""
    top, brand_a = Lake(tmp_path), Lake(tmp_path / "account=brand_a")
    default_page, brand_a_page = _page(top, "extraction=e1"), _page(brand_a, "extraction=e1")
    accounts = [
        AccountLake("default", top, _audit(top, [_manifest("e1")], {default_page: "e1"})),
        AccountLake("brand_a", brand_a, _audit(brand_a, [_manifest("e1")], {brand_a_page: "e1"}), "account=brand_a"),
    ]

    plan = plan_load(accounts, _loaded(top, {default_page: "e1"}), full_load=False)

    assert plan.mode == INCREMENTAL, plan.full_reason
    assert [(part.account, path) for part, path in plan.new_files[TRACKINGS]] == [("brand_a", brand_a_page)]
    assert accounts[1].name(brand_a_page) == "account=brand_a/" + top.relative(default_page)
