"""A local, verified mirror of a lake on object storage, for the load to read with DuckDB.

DuckDB reads S3 only through its httpfs extension, which it downloads from the internet; a
warehouse host cannot rely on that. So the object store stays the system of record and the
warehouse host keeps a cache: every manifest, and every file a manifest commits, copied by its
lake-relative name. A file is downloaded only when the local copy is missing or does not match the
SHA-256 its manifest committed, so a sync's load fetches only the new files. The local audit then
proves the copies exactly as it proves a local lake: a damaged or missing object is reported under
its own name. Local files no manifest lists any more (compacted, replaced) are deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tm_pipeline.landing.lake import COMPACTION, REPLACED, Lake, Manifest, file_sha256

log = logging.getLogger(__name__)


@dataclass
class MirrorSummary:
    downloaded: list[str] = field(default_factory=list)  # lake-relative files fetched this time
    kept: int = 0  # files whose local copy already matched
    deleted: list[str] = field(default_factory=list)  # local copies no manifest lists any more
    remote_strays: list[str] = field(default_factory=list)  # objects in no manifest: reported, never copied


def committed_files(lake: Lake, manifests: list[Manifest]) -> dict[str, str | None]:
    """Every file the manifests commit, lake-relative, with its SHA-256 (None: written before checksums)."""
    compacted = {member for m in manifests if m.kind == COMPACTION for member in m.compacts}
    files: dict[str, str | None] = {}
    for manifest in manifests:
        if manifest.extraction_id in compacted:
            continue  # its rows are in the compaction's parts
        if manifest.kind == COMPACTION:
            for name, part in manifest.parts.items():
                if manifest.status != REPLACED or name.startswith("api_calls/"):
                    files[name] = part["sha256"]
            continue
        if manifest.status != REPLACED:
            for page in manifest.pages:
                files[lake.relative(lake.page_path(manifest, page))] = manifest.checksums.get(page)
            for page in manifest.quarantined:
                files[lake.relative(lake.quarantine_path(manifest, page))] = manifest.quarantine_checksums.get(page)
        for name, part in manifest.call_parts.items():
            files[lake.relative(lake.calls_dir(manifest.extraction_id) / name)] = part["sha256"]
        if manifest.format < 2:  # ledger parts were not recorded: the folder is the list
            folder = lake.relative(lake.calls_dir(manifest.extraction_id))
            for path in lake.glob(f"{folder}/*.parquet"):
                files[lake.relative(path)] = None
    return files


def mirror_lake(
    remote: Lake, local_root: Path, progress: Callable[[str], None] = log.info
) -> tuple[Lake, MirrorSummary]:
    """Bring the local mirror at `local_root` up to the remote lake's manifests; returns it as a Lake."""
    local = Lake(local_root)
    summary = MirrorSummary()
    remote_manifests = {remote.relative(path): path for path in remote.glob("manifests/*")}
    for relative, path in sorted(remote_manifests.items()):
        local.write_bytes(local.root / relative, remote.read_bytes(path))
    for path in local.glob("manifests/*"):
        if local.relative(path) not in remote_manifests:
            local.delete_file(path)
    files = committed_files(remote, local.manifests())
    for number, (relative, sha256) in enumerate(sorted(files.items()), start=1):
        target = local.root / relative
        if target.exists() and (sha256 is None or file_sha256(target) == sha256):
            summary.kept += 1
            continue
        try:
            payload = remote.read_bytes(remote.root / relative)
        except FileNotFoundError:
            target.unlink(missing_ok=True)  # the local audit reports it missing, as the remote lake is
            continue
        local.write_bytes(target, payload)  # kept even if damaged: the local audit names the damage
        summary.downloaded.append(relative)
        if len(summary.downloaded) % 500 == 0:
            progress(f"mirror of {remote.location}: {number:,} of {len(files):,} files checked, "
                     f"{len(summary.downloaded):,} downloaded")
    for pattern in ("trackings/*/*/*.parquet", "api_calls/*/*.parquet", "quarantine/*/*.parquet"):
        for path in local.glob(pattern):
            if local.relative(path) not in files:
                path.unlink()
                summary.deleted.append(local.relative(path))
        summary.remote_strays += [
            remote.relative(path) for path in remote.glob(pattern) if remote.relative(path) not in files
        ]
    return local, summary
