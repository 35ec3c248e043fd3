"""Compact the lake: rewrite the many small files of complete extractions into few large parts per window.

Every incremental sync adds a page file, a ledger part and a manifest, and every later audit and load
lists and opens them all. A compaction reads the files of a window's complete extractions and writes
their rows, unchanged (each keeps its extraction_id and page), into parts of a target size.

Retention: every version is kept. The lake is the audit trail and the load's rule picks the winners,
so a compaction never drops a row; it only changes how many files hold them.

Commit protocol, so that a crash at any step loses and doubles nothing:
1. parts are written under their final names (each whole or not at all); until step 2 they are
   strays no load reads, and the next run deletes them;
2. the compaction manifest (`kind: "compaction"`, `compacts`, `parts`) is saved: the commit point.
   From here the audit loads the parts and never the compacted extractions' files;
3. each compacted manifest is marked `status: "compacted"`, `compacted_into`; a run killed here is
   completed by the next run;
4. the compacted extractions' old files are deleted by the *next* run, so a load that listed them
   before the commit can still read them (the asset also runs in the warehouse pool).

Eligible are complete extractions only: never a running or failed one (a sync resumes it), never
one with a file not as committed (a repair re-extracts it), never one a resumable repair
supersedes, never a created-day partition (a re-run replaces the partition's earlier extractions).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tm_pipeline.contracts.windows import PARTITION_PREFIX
from tm_pipeline.landing.lake import COMPACTED, COMPACTION, COMPLETE, EXTRACTION, Lake, Manifest, parquet_options

log = logging.getLogger(__name__)

DEFAULT_PART_ROWS = 1_000_000
DEFAULT_PART_BYTES = 128 * 1024 * 1024  # encoded (compressed) bytes of one part
ROW_GROUP_ROWS = 64_000  # pages are buffered into row groups of about this many rows
MIN_EXTRACTIONS = 2  # one extraction alone is not worth a rewrite


@dataclass
class CompactionSummary:
    compactions: list[str] = field(default_factory=list)  # committed by this run
    extractions_compacted: int = 0
    rows: int = 0
    files_read: int = 0
    parts_written: int = 0
    files_deleted: int = 0  # old files of extractions compacted by earlier runs
    uncommitted_parts_removed: list[str] = field(default_factory=list)  # left by a killed run
    marks_completed: int = 0  # compacted manifests a killed run had not yet marked
    skipped: dict[str, str] = field(default_factory=dict)  # extraction id -> why it was not compacted
    elapsed_s: float = 0.0


def new_compaction_id() -> str:
    """Sortable by time like extraction ids, so manifests list oldest first."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}-compaction-{uuid.uuid4().hex[:8]}"


class _PartWriter:
    """Streams tables into Parquet parts of at most `part_rows` rows / about `part_bytes` bytes.

    A part is encoded in memory and written once, whole, so it is hashed exactly as committed.
    A table whose schema differs from the current part's (a lake written by an older version)
    starts a new part instead of failing the cast."""

    def __init__(self, lake: Lake, folder: Path, part_rows: int, part_bytes: int) -> None:
        self.lake, self.folder, self.part_rows, self.part_bytes = lake, folder, part_rows, part_bytes
        self.parts: dict[str, dict[str, Any]] = {}
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._buffer: pa.BufferOutputStream | None = None
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0

    def add(self, table: pa.Table) -> None:
        if self._schema is not None and not table.schema.equals(self._schema):
            self._close_part()
        if self._schema is None:
            self._schema = table.schema
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush_row_group()
        if self._rows + self._pending_rows >= self.part_rows or (
            self._buffer is not None and self._buffer.tell() >= self.part_bytes
        ):
            self._close_part()

    def close(self) -> dict[str, dict[str, Any]]:
        self._close_part()
        return self.parts

    def _flush_row_group(self) -> None:
        if not self._pending or self._schema is None:
            return
        if self._writer is None:
            self._buffer = pa.BufferOutputStream()
            self._writer = pq.ParquetWriter(self._buffer, self._schema, **parquet_options(self._schema))
        self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._pending_rows)
        self._rows += self._pending_rows
        self._pending, self._pending_rows = [], 0

    def _close_part(self) -> None:
        self._flush_row_group()
        if self._writer is not None and self._buffer is not None:
            self._writer.close()
            payload = self._buffer.getvalue().to_pybytes()
            path = self.folder / f"part-{len(self.parts) + 1:05d}.parquet"
            self.lake.write_part(path, payload)
            self.parts[self.lake.relative(path)] = {"rows": self._rows, "sha256": hashlib.sha256(payload).hexdigest()}
        self._writer, self._buffer, self._schema, self._rows = None, None, None, 0


def _eligible(manifests: list[Manifest]) -> tuple[dict[str, list[Manifest]], dict[str, str]]:
    """Complete extractions to compact, by window, and why the others of the same windows are not."""
    compacted = {member for m in manifests if m.kind == COMPACTION for member in m.compacts}
    superseded_soon = {old for m in manifests if m.resumable for old in m.supersedes}
    by_window: dict[str, list[Manifest]] = {}
    skipped: dict[str, str] = {}
    for manifest in manifests:
        if manifest.kind != EXTRACTION or manifest.extraction_id in compacted:
            continue
        reason = None
        if manifest.status != COMPLETE:
            reason = f"status {manifest.status}: only complete extractions are compacted"
        elif manifest.window_key.startswith(PARTITION_PREFIX):
            reason = "a created-day partition: its re-run replaces it"
        elif manifest.extraction_id in superseded_soon:
            reason = "a resumable repair supersedes it"
        elif manifest.lost:
            reason = "it has accepted losses"
        elif manifest.format < 2:
            reason = "written before checksums (manifest format 1)"
        if reason is None:
            by_window.setdefault(manifest.window_key, []).append(manifest)
        elif manifest.status != "replaced":
            skipped[manifest.extraction_id] = reason
    return by_window, skipped


def _remove_uncommitted_parts(lake: Lake, manifests: list[Manifest]) -> list[str]:
    """Delete parts under compaction folders that no compaction manifest lists: a killed run's leftovers."""
    committed = {m.extraction_id for m in manifests if m.kind == COMPACTION}
    removed = []
    for pattern in ("trackings/*/compaction=*", "api_calls/compaction=*", "quarantine/compaction=*"):
        for folder in lake.folders(pattern):
            if folder.name.removeprefix("compaction=") not in committed:
                removed.append(lake.relative(folder))
                lake.delete_dir(folder)
    return removed


def _finish_committed(lake: Lake, manifests: list[Manifest], summary: CompactionSummary) -> None:
    """Mark the extractions of committed compactions (a killed run's step 3), then delete their old files."""
    by_id = {m.extraction_id: m for m in manifests}
    for compaction in (m for m in manifests if m.kind == COMPACTION and not m.old_files_deleted):
        for member_id in compaction.compacts:
            member = by_id.get(member_id)
            if member is None:
                continue
            if member.status == COMPLETE:
                member.status, member.compacted_into = COMPACTED, compaction.extraction_id
                lake.save_manifest(member)
                summary.marks_completed += 1
            files = [lake.page_path(member, page) for page in member.pages]
            files += [lake.quarantine_path(member, page) for page in member.quarantined]
            files += [lake.calls_dir(member_id) / name for name in member.call_parts]
            present = sum(1 for path in files if lake.exists(path))
            if present:
                lake.delete_extraction_files(member, keep_ledger=False)
                summary.files_deleted += present
        compaction.old_files_deleted = True  # so later runs do not look for them again
        lake.save_manifest(compaction)


def _verified_tables(lake: Lake, member: Manifest) -> list[tuple[str, pa.Table]] | str:
    """The member's files as tables, each proven against its manifest; or why one is not as committed.

    Read once, hashed and parsed from the same bytes: a file damaged after the last audit is never
    copied into a part (the next sync's repair re-extracts its extraction instead)."""
    sources = [
        *(("trackings", lake.page_path(member, page), rows, member.checksums.get(page))
          for page, rows in sorted(member.pages.items())),
        *(("quarantine", lake.quarantine_path(member, page), items, member.quarantine_checksums.get(page))
          for page, items in sorted(member.quarantined.items())),
        *(("api_calls", lake.calls_dir(member.extraction_id) / name, part["rows"], part["sha256"])
          for name, part in sorted(member.call_parts.items())),
    ]
    tables = []
    for folder, path, rows, sha256 in sources:
        try:
            payload = lake.read_bytes(path)
        except FileNotFoundError:
            return f"{lake.relative(path)} is missing: the next sync repairs it first"
        if sha256 and hashlib.sha256(payload).hexdigest() != sha256:
            return f"{lake.relative(path)} does not match its SHA-256: the next sync repairs it first"
        table = pq.read_table(pa.BufferReader(payload))
        if table.num_rows != rows:
            return f"{lake.relative(path)} has {table.num_rows} rows, {rows} were committed"
        tables.append((folder, table))
    return tables


def _compact_window(
    lake: Lake, window_key: str, members: list[Manifest], settings: tuple[int, int],
    summary: CompactionSummary, progress: Callable[[str], None],
) -> Manifest | None:
    """Write the parts of one window's compaction, commit its manifest, mark its members."""
    compaction = Manifest(new_compaction_id(), window_key, params={}, status=COMPLETE, kind=COMPACTION)
    folders = lake.compaction_dirs(compaction)
    writers = {name: _PartWriter(lake, folder, *settings) for name, folder in folders.items()}
    compacted = []
    for done, member in enumerate(members, start=1):
        tables = _verified_tables(lake, member)
        if isinstance(tables, str):
            summary.skipped[member.extraction_id] = tables
            continue
        for folder, table in tables:
            writers[folder].add(table)
        summary.files_read += len(tables)
        compacted.append(member)
        if done % 500 == 0:
            progress(f"compaction of window {window_key}: read {done} of {len(members)} extractions")
    for writer in writers.values():
        compaction.parts.update(writer.close())
    if not compacted:
        return None
    compaction.compacts = [m.extraction_id for m in compacted]
    lake.save_manifest(compaction)  # the commit point
    for member in compacted:
        member.status, member.compacted_into = COMPACTED, compaction.extraction_id
        lake.save_manifest(member)
    summary.compactions.append(compaction.extraction_id)
    summary.extractions_compacted += len(compacted)
    summary.rows += sum(m.rows for m in compacted)
    summary.parts_written += len(compaction.parts)
    return compaction


def compact_lake(
    lake: Lake,
    part_rows: int = DEFAULT_PART_ROWS,
    part_bytes: int = DEFAULT_PART_BYTES,
    min_extractions: int = MIN_EXTRACTIONS,
    progress: Callable[[str], None] = log.info,
) -> CompactionSummary:
    """One compaction run: clean up after earlier runs, then compact each window with enough extractions."""
    started = time.monotonic()
    summary = CompactionSummary()
    manifests = lake.manifests()
    summary.uncommitted_parts_removed = _remove_uncommitted_parts(lake, manifests)
    _finish_committed(lake, manifests, summary)
    by_window, summary.skipped = _eligible(manifests)
    for window_key, members in sorted(by_window.items()):
        if len(members) < min_extractions:
            continue
        progress(f"compacting {len(members)} extractions of window {window_key}")
        _compact_window(lake, window_key, members, (part_rows, part_bytes), summary, progress)
    summary.elapsed_s = time.monotonic() - started
    return summary
