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

Every account has its own lake (load/accounts.py): files are named relative to the top lake
(`account=<name>/trackings/...` for a named account), so the record tells the accounts' files
apart, and a compaction is matched against the extractions of its own account's lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tm_pipeline.landing.integrity import CommittedFile, LakeAudit
from tm_pipeline.load.accounts import AccountLake
from tm_pipeline.load.bookkeeping import API_CALLS, FULL, INCREMENTAL, QUARANTINE, TRACKINGS, LoadedFile

COMPACTION_KIND, COMPACTED = "compaction", "compacted"


# A lake file with the account lake it lies in.
AccountFile = tuple[AccountLake, Path]


@dataclass
class LoadPlan:
    mode: str  # full | incremental
    full_reason: str  # "" for an incremental load
    new_files: dict[str, list[AccountFile]] = field(default_factory=dict)  # kind -> files to read now
    # kind -> compaction parts of loaded rows
    already_loaded: dict[str, list[AccountFile]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)  # top-relative files that left the record
    # Loaded files written since (same bytes, as their hash proved): recorded again, so they are not hashed every run.
    rewritten: dict[str, list[AccountFile]] = field(default_factory=dict)

    def files(self, kind: str) -> list[AccountFile]:
        return self.new_files.get(kind, [])

    @property
    def files_to_read(self) -> int:
        return sum(len(files) for files in self.new_files.values())


def verified_files(audit: LakeAudit) -> dict[str, list[Path]]:
    return {TRACKINGS: audit.trackings_files, API_CALLS: audit.api_calls_files, QUARANTINE: audit.quarantine_files}


def accounts_verified_files(accounts: Sequence[AccountLake]) -> dict[str, list[AccountFile]]:
    """Every account's verified files by kind, each with its account lake."""
    files: dict[str, list[AccountFile]] = {TRACKINGS: [], API_CALLS: [], QUARANTINE: []}
    for part in accounts:
        for kind, paths in verified_files(part.audit).items():
            files[kind] += [(part, path) for path in paths]
    return files


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


def full_plan(accounts: Sequence[AccountLake], reason: str) -> LoadPlan:
    return LoadPlan(FULL, reason, new_files=accounts_verified_files(accounts))


def plan_load(
    accounts: Sequence[AccountLake], loaded: dict[str, LoadedFile] | None, full_load: bool
) -> LoadPlan:
    """Full or incremental, and which files; see the module docstring for what forces a full rebuild.

    `loaded` is keyed by top-relative name (AccountLake.name)."""
    if full_load:
        return full_plan(accounts, "a full load was asked for (--full-load or run config full_load)")
    if loaded is None:
        return full_plan(
            accounts, "the build file has no record of loaded files (first load, a lost or rebuilt build file, "
            "or one written by an older version)"
        )
    # Extraction ids are per account lake: compactions and what they compacted are keyed by account.
    compacted = {(part.account, m.extraction_id) for part in accounts for m in part.audit.manifests
                 if m.status == COMPACTED}
    compactions = {
        (part.account, m.extraction_id): set(getattr(m, "compacts", None) or ())
        for part in accounts for m in part.audit.manifests if getattr(m, "kind", None) == COMPACTION_KIND
    }
    all_files = accounts_verified_files(accounts)
    verified = {part.name(path) for files in all_files.values() for part, path in files}

    def account_of(name: str) -> str:
        return next((part.account for part in accounts if part.owns(name)), "")

    vanished = sorted(
        f for f, record in loaded.items()
        if f not in verified and (account_of(f), record.extraction_id) not in compacted
    )
    if vanished:
        return full_plan(
            accounts, f"{len(vanished)} loaded file(s) are no longer in the verified lake (replaced by a repair, "
            f"a re-run partition or a removed account, lost, or changed), e.g. {vanished[0]}"
        )
    loaded_extractions = {(account_of(f), record.extraction_id) for f, record in loaded.items()}
    plan = LoadPlan(INCREMENTAL, "")
    absorbed: set[tuple[str, str]] = set()  # (account, extraction) whose rows a loaded compaction now holds
    for kind, files in all_files.items():
        for part, path in files:
            if part.name(path) in loaded:
                continue
            extraction_id = extraction_of(part.audit, path).extraction_id
            if (part.account, extraction_id) in compactions:
                members = compactions[(part.account, extraction_id)]
                missing = sorted(m for m in members if (part.account, m) not in loaded_extractions)
                if missing:
                    return full_plan(
                        accounts, f"compaction {extraction_id} of account {part.account} holds extractions this "
                        f"warehouse never loaded, e.g. {missing[0]}"
                    )
                plan.already_loaded.setdefault(kind, []).append((part, path))
                absorbed |= {(part.account, member) for member in members}
                continue
            plan.new_files.setdefault(kind, []).append((part, path))
    for kind, files in all_files.items():
        for part, path in files:
            record = loaded.get(part.name(path))
            found = part.audit.stats.get(path) or _stat(path)
            if record is not None and found not in (None, (record.size_bytes, record.mtime_ns)):
                plan.rewritten.setdefault(kind, []).append((part, path))
    plan.retired = sorted(
        f for f, record in loaded.items()
        if (account_of(f), record.extraction_id) in absorbed
        or ((account_of(f), record.extraction_id) in compacted and f not in verified)
    )
    return plan
