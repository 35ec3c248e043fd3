"""Accept a loss the lake cannot repair, explicitly, so one lost file does not block every run.

A lost ledger part is evidence of what the API answered and cannot be fetched again; a manifest
moved aside without a ledger cannot be rebuilt. Rather than fail forever, the operator records the
loss: the manifest keeps the file's name with the reason and the time, the integrity checks skip
it, and the file (if it is still there, damaged) is never loaded.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from tm_pipeline.landing.lake import Lake
from tm_pipeline.landing.manifest_repair import QUARANTINE_SUFFIX

ACCEPTED_SUFFIX = ".lost-accepted"


def _lake_relative(lake: Lake, file: str) -> str:
    """`file` as given (absolute, relative to the working directory, or to the lake) made lake-relative."""
    candidate = Path(file)
    for absolute in (candidate if candidate.is_absolute() else Path.cwd() / candidate, lake.root / candidate):
        try:
            return str(absolute.resolve().relative_to(lake.root.resolve()))
        except ValueError:
            continue
    raise ValueError(f"{file} is not inside the lake {lake.root}")


def accept_loss(lake: Lake, file: str, reason: str) -> str:
    """Record that `file` is lost for good; returns what was recorded. Raises ValueError when no manifest lists it."""
    relative = _lake_relative(lake, file)
    stamp = f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    if QUARANTINE_SUFFIX in Path(relative).name:
        quarantined = lake.root / relative
        accepted = quarantined.with_name(quarantined.name.replace(QUARANTINE_SUFFIX, ACCEPTED_SUFFIX))
        os.replace(quarantined, accepted)
        return f"{quarantined} renamed to {accepted}: its extraction is no longer reported ({reason})"
    for manifest in lake.manifests():
        listed = {lake.relative(lake.page_path(manifest, page)) for page in manifest.pages}
        listed |= {lake.relative(lake.calls_dir(manifest.extraction_id) / name) for name in manifest.call_parts}
        listed |= set(manifest.parts)  # a compaction's parts
        if relative in listed:
            manifest.lost[relative] = f"{reason} (accepted {stamp})"
            lake.save_manifest(manifest)
            return f"recorded in manifest {manifest.extraction_id}: {relative} is lost ({reason})"
    raise ValueError(
        f"{relative} is listed in no manifest, so it was never loaded: nothing to accept. "
        "Run `tm-pipeline lake verify` to list the files that are not as committed."
    )
