"""Decide how a load brings raw.* up to date: merge the new files, or rebuild from the whole lake.

An incremental load is only right when the lake changed by pure additions: verified files the
warehouse has not loaded yet. Anything else rebuilds in full, and says why:

- a full load was asked for (`tm-pipeline sync --full-load`, run config `full_load: true`);
- the build file has no record of what it loaded (first load, lost or corrupt build file, or a
  record of another format);
- a file it loaded is no longer among the verified files: deleted by a repair or a re-run
  partition (its extraction `replaced`), lost, or not as committed any more;
- a compaction rewrote extractions this warehouse never loaded.

A compaction of extractions all loaded already is no change at all: its parts are recorded as
loaded (their rows are the same rows) and the compacted extractions' files leave the record.
Compaction manifests (landing/compaction.py) say `kind: "compaction"` and `compacts`, and mark
what they compacted `status: "compacted"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tm_pipeline.landing.integrity import CommittedFile, LakeAudit
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.bookkeeping import API_CALLS, FULL, INCREMENTAL, QUARANTINE, TRACKINGS, LoadedFile

COMPACTION_KIND, COMPACTED = "compaction", "compacted"


@dataclass
class LoadPlan:
    mode: str  # full | incremental
    full_reason: str  # "" for an incremental load
    new_files: dict[str, list[Path]] = field(default_factory=dict)  # kind -> files to read now
    already_loaded: dict[str, list[Path]] = field(default_factory=dict)  # kind -> compaction parts of loaded rows
    retired: list[str] = field(default_factory=list)  # lake-relative files that left the record
    # Loaded files written since (same bytes, as their hash proved): recorded again, so they are not hashed every run.
    rewritten: dict[str, list[Path]] = field(default_factory=dict)

    def files(self, kind: str) -> list[Path]:
        return self.new_files.get(kind, [])

    @property
    def files_to_read(self) -> int:
        return sum(len(files) for files in self.new_files.values())


def verified_files(audit: LakeAudit) -> dict[str, list[Path]]:
    return {TRACKINGS: audit.trackings_files, API_CALLS: audit.api_calls_files, QUARANTINE: audit.quarantine_files}


def extraction_of(audit: LakeAudit, path: Path) -> CommittedFile:
    """What the manifest commits for `path`; a hand-made audit (tests) names the extraction by its folder."""
    committed = audit.committed.get(path)
    if committed is not None:
        return committed
    folder = next((part for part in path.parts if part.startswith(("extraction=", "compaction="))), "=")
    return CommittedFile(folder.split("=", 1)[1], None, None)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        on_disk = path.stat()
    except FileNotFoundError:  # deleted since the audit: the next audit names it
        return None
    return on_disk.st_size, on_disk.st_mtime_ns


def full_plan(audit: LakeAudit, reason: str) -> LoadPlan:
    return LoadPlan(FULL, reason, new_files=verified_files(audit))


def plan_load(lake: Lake, audit: LakeAudit, loaded: dict[str, LoadedFile] | None, full_load: bool) -> LoadPlan:
    """Full or incremental, and which files; see the module docstring for what forces a full rebuild."""
    if full_load:
        return full_plan(audit, "a full load was asked for (--full-load or run config full_load)")
    if loaded is None:
        return full_plan(
            audit, "the build file has no record of loaded files (first load, a lost or rebuilt build file, "
            "or one written by an older version)"
        )
    compacted = {m.extraction_id for m in audit.manifests if m.status == COMPACTED}
    compactions = {
        m.extraction_id: set(getattr(m, "compacts", None) or ())
        for m in audit.manifests if getattr(m, "kind", None) == COMPACTION_KIND
    }
    verified = {lake.relative(path): path for files in verified_files(audit).values() for path in files}
    vanished = sorted(f for f, record in loaded.items() if f not in verified and record.extraction_id not in compacted)
    if vanished:
        return full_plan(
            audit, f"{len(vanished)} loaded file(s) are no longer in the verified lake (replaced by a repair or "
            f"a re-run partition, lost, or changed), e.g. {vanished[0]}"
        )
    loaded_extractions = {record.extraction_id for record in loaded.values()}
    plan = LoadPlan(INCREMENTAL, "")
    absorbed: set[str] = set()  # extractions whose rows a loaded compaction now holds
    for kind, files in verified_files(audit).items():
        for path in files:
            if lake.relative(path) in loaded:
                continue
            extraction_id = extraction_of(audit, path).extraction_id
            if extraction_id in compactions:
                missing = sorted(compactions[extraction_id] - loaded_extractions)
                if missing:
                    return full_plan(
                        audit, f"compaction {extraction_id} holds extractions this warehouse never loaded, "
                        f"e.g. {missing[0]}"
                    )
                plan.already_loaded.setdefault(kind, []).append(path)
                absorbed |= compactions[extraction_id]
                continue
            plan.new_files.setdefault(kind, []).append(path)
    for kind, files in verified_files(audit).items():
        for path in files:
            record = loaded.get(lake.relative(path))
            if record is not None and _stat(path) not in (None, (record.size_bytes, record.mtime_ns)):
                plan.rewritten.setdefault(kind, []).append(path)
    plan.retired = sorted(
        f for f, record in loaded.items()
        if record.extraction_id in absorbed or (record.extraction_id in compacted and f not in verified)
    )
    return plan
