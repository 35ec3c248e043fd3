"""Prove the lake is what the manifests say was committed, and list exactly the files to load.

A load that globbed whatever exists would shrink the data silently when a file is lost. Instead
every committed page, its quarantine file and every ledger part is checked against its manifest: present, the same row
count, the same SHA-256 (manifests written before checksums: presence and row count). Files no
manifest lists are strays: reported, never loaded. What fails is a LakeProblem naming the file;
the extract asset repairs the pages it can refetch, the load's integrity checks fail on the rest.

Files the warehouse already loaded (`loaded`: their SHA-256, size and modification time when they
were verified and loaded) are checked with one stat on a local lake: only a file whose size or
modification time changed, or whose manifest now commits another checksum, is hashed again. Hashing
the whole lake on every run would make a run's cost grow with history instead of with the change;
`tm-pipeline lake verify` and a full load still hash every file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tm_pipeline.landing.lake import COMPACTION, REPLACED, Lake, Manifest
from tm_pipeline.landing.manifest_repair import QUARANTINE_SUFFIX

MISSING, ROW_COUNT, CHECKSUM, UNREADABLE, MANIFEST_QUARANTINED = (
    "missing", "row_count", "checksum", "unreadable", "manifest_quarantined"
)


@dataclass(frozen=True)
class LakeProblem:
    """One file that is not as committed."""

    file: str  # lake-relative path
    extraction_id: str
    kind: str  # missing | row_count | checksum | unreadable | manifest_quarantined
    detail: str
    is_ledger: bool  # ledger parts are evidence of what the API answered: they cannot be refetched

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} ({self.detail})"


@dataclass
class KnownFile:
    """A lake file as it was verified when the warehouse loaded it."""

    sha256: str | None
    size_bytes: int
    mtime_ns: int


@dataclass(frozen=True)
class CommittedFile:
    """What a verified file's manifest commits: the load records it with the file."""

    extraction_id: str
    rows: int | None
    sha256: str | None


@dataclass
class LakeAudit:
    trackings_files: list[Path] = field(default_factory=list)  # verified, to load
    api_calls_files: list[Path] = field(default_factory=list)
    quarantine_files: list[Path] = field(default_factory=list)  # malformed items set aside with their page
    problems: list[LakeProblem] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # lake-relative: in the lake, in no manifest
    manifests: list[Manifest] = field(default_factory=list)
    committed: dict[Path, CommittedFile] = field(default_factory=dict)  # every verified file
    # (size, mtime_ns) of each local file as the audit stat'ed it, so the load plan need not stat it again
    stats: dict[Path, tuple[int, int]] = field(default_factory=dict)

    @property
    def page_problems(self) -> list[LakeProblem]:
        return [p for p in self.problems if not p.is_ledger]

    @property
    def ledger_problems(self) -> list[LakeProblem]:
        return [p for p in self.problems if p.is_ledger]

    def damaged_extractions(self) -> list[Manifest]:
        """Extractions with a page not as committed: the ones a repair re-extracts.

        A damaged compaction part stands for every extraction the compaction holds: each is
        re-extracted with its own params, and the compaction is retired with the last of them."""
        damaged_ids = {p.extraction_id for p in self.page_problems}
        for compaction in self.manifests:
            if compaction.kind == COMPACTION and compaction.extraction_id in damaged_ids:
                damaged_ids |= set(compaction.compacts)
        return [m for m in self.manifests if m.extraction_id in damaged_ids and m.kind != COMPACTION]


def _check_file(
    lake: Lake, path: Path, rows: int | None, sha256: str | None, known: KnownFile | None = None,
    stats: dict[Path, tuple[int, int]] | None = None,
) -> tuple[str, str] | None:
    """(kind, detail) when the file is not as committed, else None; a local file's stat goes to `stats`."""
    if lake.is_local:
        try:
            on_disk = os.stat(path)
        except FileNotFoundError:
            return MISSING, "listed in the manifest but not in the lake"
        if stats is not None:
            stats[path] = (on_disk.st_size, on_disk.st_mtime_ns)
        if known is not None and known.sha256 == sha256:
            if (on_disk.st_size, on_disk.st_mtime_ns) == (known.size_bytes, known.mtime_ns):
                return None  # verified when it was loaded, and not written since
    elif not lake.exists(path):
        return MISSING, "listed in the manifest but not in the lake"
    if sha256:
        found = lake.sha256(path)
        if found != sha256:
            return CHECKSUM, f"sha256 {found[:12]}… but {sha256[:12]}… was committed"
    try:
        found_rows = lake.parquet_metadata(path).num_rows
    except (OSError, pa.ArrowInvalid) as error:
        return UNREADABLE, f"not a readable Parquet file: {error}"
    if rows is not None and found_rows != rows:
        return ROW_COUNT, f"{found_rows} rows but {rows} were committed"
    return None


def _compacted_files(lake: Lake, manifest: Manifest) -> set[str]:
    """The files a compacted extraction had, still in the lake until the next compaction run deletes them."""
    files = {lake.relative(lake.page_path(manifest, page)) for page in manifest.pages}
    files |= {lake.relative(lake.quarantine_path(manifest, page)) for page in manifest.quarantined}
    return files | {lake.relative(lake.calls_dir(manifest.extraction_id) / name) for name in manifest.call_parts}


def _audit_compaction(
    lake: Lake, compaction: Manifest, audit: LakeAudit, known: Mapping[str, KnownFile]
) -> set[str]:
    """Check a compaction's parts into `audit`; a retired compaction keeps only its ledger parts."""
    for relative, part in sorted(compaction.parts.items()):
        folder = relative.split("/", 1)[0]
        if compaction.status == REPLACED and folder != "api_calls":
            continue
        if relative in compaction.lost:
            continue
        problem = _check_file(
            lake, lake.root / relative, part["rows"], part["sha256"], known.get(relative), audit.stats
        )
        if problem is not None:
            is_ledger = folder == "api_calls"
            audit.problems.append(LakeProblem(relative, compaction.extraction_id, *problem, is_ledger=is_ledger))
            continue
        verified = {"trackings": audit.trackings_files, "api_calls": audit.api_calls_files}
        verified.get(folder, audit.quarantine_files).append(lake.root / relative)
        audit.committed[lake.root / relative] = CommittedFile(compaction.extraction_id, part["rows"], part["sha256"])
    return set(compaction.parts)


def _audit_manifest(lake: Lake, manifest: Manifest, audit: LakeAudit, known: Mapping[str, KnownFile]) -> set[str]:
    """Check one extraction's files into `audit`; returns the lake-relative files it lists."""
    if manifest.kind == COMPACTION:
        return _audit_compaction(lake, manifest, audit, known)
    listed: set[str] = set()

    def check(path: Path, rows: int | None, sha256: str | None, is_ledger: bool) -> bool:
        relative = lake.relative(path)
        listed.add(relative)
        if relative in manifest.lost:
            return False  # the loss was accepted (tm-pipeline lake accept-loss)
        problem = _check_file(lake, path, rows, sha256, known.get(relative), audit.stats)
        if problem is not None:
            audit.problems.append(LakeProblem(relative, manifest.extraction_id, *problem, is_ledger=is_ledger))
        else:
            audit.committed[path] = CommittedFile(manifest.extraction_id, rows, sha256)
        return problem is None

    if manifest.status != REPLACED:  # a replaced extraction's pages were deleted on purpose
        for page, rows in sorted(manifest.pages.items()):
            path = lake.page_path(manifest, page)
            if check(path, rows, manifest.checksums.get(page), is_ledger=False):
                audit.trackings_files.append(path)
        # A page's quarantine is part of its commit: lost, it is refetched with the page's extraction.
        for page, items in sorted(manifest.quarantined.items()):
            path = lake.quarantine_path(manifest, page)
            if check(path, items, manifest.quarantine_checksums.get(page), is_ledger=False):
                audit.quarantine_files.append(path)
    if manifest.format >= 2:
        for name, part in sorted(manifest.call_parts.items()):
            path = lake.calls_dir(manifest.extraction_id) / name
            if check(path, part["rows"], part["sha256"], is_ledger=True):
                audit.api_calls_files.append(path)
    else:  # written before ledger parts were recorded: the extraction's ledger folder is its list
        for path in lake.glob(f"{lake.relative(lake.calls_dir(manifest.extraction_id))}/*.parquet"):
            listed.add(lake.relative(path))
            audit.api_calls_files.append(path)
            audit.committed[path] = CommittedFile(manifest.extraction_id, None, None)
    return listed


def audit_lake(lake: Lake, loaded: Mapping[str, KnownFile] | None = None) -> LakeAudit:
    """Verify every manifest's files; the audit lists what to load and what is wrong.

    `loaded` maps lake-relative files the warehouse loaded to how they were then (see KnownFile)."""
    audit = LakeAudit(manifests=lake.manifests())
    compacted = {member for m in audit.manifests if m.kind == COMPACTION for member in m.compacts}
    listed: set[str] = set()
    for manifest in audit.manifests:
        if manifest.extraction_id in compacted:
            listed |= _compacted_files(lake, manifest)  # its rows are verified in the compaction's parts
        else:
            listed |= _audit_manifest(lake, manifest, audit, loaded or {})
    known = {m.extraction_id for m in audit.manifests} | compacted
    for quarantined in lake.glob(f"manifests/*.json{QUARANTINE_SUFFIX}-*"):
        extraction_id = quarantined.name.split(".json", 1)[0]
        if extraction_id not in known:
            audit.problems.append(
                LakeProblem(
                    lake.relative(quarantined), extraction_id, MANIFEST_QUARANTINED,
                    "damaged and not rebuildable (no ledger); its pages are not loaded", is_ledger=False,
                )
            )
    for folder, depth in (("trackings", 3), ("api_calls", 2), ("quarantine", 2)):
        if lake.is_local:
            found = _parquet_files(lake.root, folder, depth)
        else:
            found = [lake.relative(path) for path in lake.glob(folder + "/*" * (depth - 1) + "/*.parquet")]
        audit.strays.extend(sorted(set(found) - listed))
    return audit


def _parquet_files(root: Path, folder: str, depth: int) -> list[str]:
    """Lake-relative `*.parquet` files exactly `depth` levels under `folder` (as `<folder>/*/.../*.parquet`
    globs them, hidden names skipped), listed with scandir: glob's matching cost grew with every folder."""
    found: list[str] = []
    level = [(str(root / folder), folder)]
    for remaining in range(depth, 0, -1):
        deeper = []
        for directory, relative in level:
            try:
                entries = list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if remaining == 1:
                    if entry.name.endswith(".parquet"):
                        found.append(f"{relative}/{entry.name}")
                elif entry.is_dir():
                    deeper.append((entry.path, f"{relative}/{entry.name}"))
        level = deeper
    return found
