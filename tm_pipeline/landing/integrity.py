"""Prove the lake is what the manifests say was committed, and list exactly the files to load.

A load that globbed whatever exists would shrink the data silently when a file is lost. Instead
every committed page, its quarantine file and every ledger part is checked against its manifest: present, the same row
count, the same SHA-256 (manifests written before checksums: presence and row count). Files no
manifest lists are strays: reported, never loaded. What fails is a LakeProblem naming the file;
the extract asset repairs the pages it can refetch, the load's integrity checks fail on the rest.
"""

from __future__ import annotations

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
class LakeAudit:
    trackings_files: list[Path] = field(default_factory=list)  # verified, to load
    api_calls_files: list[Path] = field(default_factory=list)
    quarantine_files: list[Path] = field(default_factory=list)  # malformed items set aside with their page
    problems: list[LakeProblem] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # lake-relative: in the lake, in no manifest
    manifests: list[Manifest] = field(default_factory=list)

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


def _check_file(lake: Lake, path: Path, rows: int | None, sha256: str | None) -> tuple[str, str] | None:
    """(kind, detail) when the file is not as committed, else None."""
    if not lake.exists(path):
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


def _audit_compaction(lake: Lake, compaction: Manifest, audit: LakeAudit) -> set[str]:
    """Check a compaction's parts into `audit`; a retired compaction keeps only its ledger parts."""
    for relative, part in sorted(compaction.parts.items()):
        folder = relative.split("/", 1)[0]
        if compaction.status == REPLACED and folder != "api_calls":
            continue
        if relative in compaction.lost:
            continue
        problem = _check_file(lake, lake.root / relative, part["rows"], part["sha256"])
        if problem is not None:
            is_ledger = folder == "api_calls"
            audit.problems.append(LakeProblem(relative, compaction.extraction_id, *problem, is_ledger=is_ledger))
            continue
        verified = {"trackings": audit.trackings_files, "api_calls": audit.api_calls_files}
        verified.get(folder, audit.quarantine_files).append(lake.root / relative)
    return set(compaction.parts)


def _audit_manifest(lake: Lake, manifest: Manifest, audit: LakeAudit) -> set[str]:
    """Check one extraction's files into `audit`; returns the lake-relative files it lists."""
    if manifest.kind == COMPACTION:
        return _audit_compaction(lake, manifest, audit)
    listed: set[str] = set()

    def check(path: Path, rows: int | None, sha256: str | None, is_ledger: bool) -> bool:
        relative = lake.relative(path)
        listed.add(relative)
        if relative in manifest.lost:
            return False  # the loss was accepted (tm-pipeline lake accept-loss)
        problem = _check_file(lake, path, rows, sha256)
        if problem is not None:
            audit.problems.append(LakeProblem(relative, manifest.extraction_id, *problem, is_ledger=is_ledger))
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
    return listed


def audit_lake(lake: Lake) -> LakeAudit:
    """Verify every manifest's files; the audit lists what to load and what is wrong."""
    audit = LakeAudit(manifests=lake.manifests())
    compacted = {member for m in audit.manifests if m.kind == COMPACTION for member in m.compacts}
    listed: set[str] = set()
    for manifest in audit.manifests:
        if manifest.extraction_id in compacted:
            listed |= _compacted_files(lake, manifest)  # its rows are verified in the compaction's parts
        else:
            listed |= _audit_manifest(lake, manifest, audit)
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
    for pattern in ("trackings/*/*/*.parquet", "api_calls/*/*.parquet", "quarantine/*/*.parquet"):
        for found in lake.glob(pattern):
            relative = lake.relative(found)
            if relative not in listed:
                audit.strays.append(relative)
    return audit
