"""The Parquet lake: every page lands as its own file, atomically, recorded in an extraction manifest.

A page file appears whole or not at all (write to a temp name, then rename), and the manifest is
rewritten the same way after each page. A resumed extraction trusts exactly the pages its manifest
lists, so a killed run never refetches what it committed.

    <root>/trackings/window=<key>/extraction=<id>/page-000001.parquet
    <root>/api_calls/extraction=<id>/calls-00000001-page-000001.parquet
    <root>/quarantine/extraction=<id>/page-000001.parquet   only for pages with malformed items
    <root>/manifests/<id>.json
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

RUNNING, COMPLETE, FAILED, REPLACED = "running", "complete", "failed", "replaced"


@dataclass
class Manifest:
    extraction_id: str
    window_key: str
    params: dict[str, Any]  # frozen at start: a resumed extraction asks exactly the same question
    dagster_run_ids: list[str] = field(default_factory=list)
    status: str = RUNNING
    pages: dict[int, int] = field(default_factory=dict)  # page -> rows committed
    total_reported: int | None = None
    max_updated_at: int | None = None  # unix seconds, the newest updated_at landed (server clock)
    max_created_at: int | None = None  # unix seconds, the newest created_at landed (server clock)
    drift: list[str] = field(default_factory=list)
    # Why this walk may have missed rows; when non-empty its watermarks are never used (see sync_state).
    possible_gaps: list[str] = field(default_factory=list)
    quarantined: dict[int, int] = field(default_factory=dict)  # page -> items quarantined
    elapsed_s: float = 0.0
    calls: int = 0  # ledger rows landed so far; a resumed extraction numbers its calls after them

    @property
    def rows(self) -> int:
        return sum(self.pages.values())

    @property
    def items_fetched(self) -> int:
        """Every item the committed pages carried: landed as trackings or quarantined."""
        return self.rows + sum(self.quarantined.values())

    @property
    def resumable(self) -> bool:
        return self.status in (RUNNING, FAILED)


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


# raw_json is most of a page: lz4 compresses it at the least CPU on the hot path, zstd the small
# typed columns. Dictionaries only where values repeat; trying one on raw_json costs time for nothing.
_DICTIONARY_COLUMNS = [
    "carrier_code", "status", "substatus", "original_country", "destination_country", "run_id",
    "extraction_id", "window_key", "endpoint", "meta_type", "meta_message", "failure",
]


def _write_parquet_atomically(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    dictionary = [name for name in _DICTIONARY_COLUMNS if name in table.column_names]
    compression = {name: "lz4" if name == "raw_json" else "zstd" for name in table.column_names}
    statistics = [name for name in table.column_names if name != "raw_json"]
    pq.write_table(
        table, temporary, compression=compression, use_dictionary=dictionary, write_statistics=statistics
    )
    os.replace(temporary, path)


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def trackings_glob(self) -> str:
        return str(self.root / "trackings" / "*" / "*" / "*.parquet")

    @property
    def quarantine_glob(self) -> str:
        return str(self.root / "quarantine" / "*" / "*.parquet")

    @property
    def api_calls_glob(self) -> str:
        return str(self.root / "api_calls" / "*" / "*.parquet")

    def _manifest_path(self, extraction_id: str) -> Path:
        return self.root / "manifests" / f"{extraction_id}.json"

    def _pages_dir(self, manifest: Manifest) -> Path:
        return self.root / "trackings" / f"window={manifest.window_key}" / f"extraction={manifest.extraction_id}"

    def page_path(self, manifest: Manifest, page: int) -> Path:
        return self._pages_dir(manifest) / f"page-{page:06d}.parquet"

    def _quarantine_dir(self, extraction_id: str) -> Path:
        return self.root / "quarantine" / f"extraction={extraction_id}"

    def quarantine_path(self, manifest: Manifest, page: int) -> Path:
        return self._quarantine_dir(manifest.extraction_id) / f"page-{page:06d}.parquet"

    def save_manifest(self, manifest: Manifest) -> None:
        document = asdict(manifest)
        document["pages"] = {str(page): rows for page, rows in sorted(manifest.pages.items())}
        document["quarantined"] = {str(page): items for page, items in sorted(manifest.quarantined.items())}
        _write_atomically(self._manifest_path(manifest.extraction_id), json.dumps(document, indent=2).encode())

    def manifests(self) -> list[Manifest]:
        """Every manifest, oldest extraction first (ids start with their UTC start time)."""
        found = []
        for path in sorted((self.root / "manifests").glob("*.json")):
            document = json.loads(path.read_bytes())
            document["pages"] = {int(page): rows for page, rows in document["pages"].items()}
            document["quarantined"] = {int(page): n for page, n in document.get("quarantined", {}).items()}
            found.append(Manifest(**document))
        return found

    def resumable(self, window_key: str) -> Manifest | None:
        """The latest unfinished extraction of this window, if any."""
        candidates = [m for m in self.manifests() if m.window_key == window_key and m.resumable]
        return candidates[-1] if candidates else None

    def commit_page(
        self, manifest: Manifest, page: int, trackings: pa.Table, calls: pa.Table, quarantine: pa.Table | None = None
    ) -> Path:
        """Land a page, its quarantined items and the ledger rows that produced it, then record them in
        the manifest: the manifest is the commit point, so a page is committed with its quarantine or not at all."""
        if quarantine is not None and quarantine.num_rows:
            _write_parquet_atomically(self.quarantine_path(manifest, page), quarantine)
            manifest.quarantined[page] = quarantine.num_rows
        else:  # a run killed between the two writes may have left one for this page
            self.quarantine_path(manifest, page).unlink(missing_ok=True)
            manifest.quarantined.pop(page, None)
        path = self.page_path(manifest, page)
        _write_parquet_atomically(path, trackings)
        self.commit_calls(manifest.extraction_id, calls, part=f"page-{page:06d}")
        manifest.pages[page] = trackings.num_rows
        self.save_manifest(manifest)
        return path

    def commit_calls(self, extraction_id: str, calls: pa.Table, part: str) -> None:
        """Ledger rows are kept for every extraction, replaced or not: they are the evidence.

        A file is named by its first `call_seq`, which an extraction never reuses, so a resumed
        run's files cannot overwrite an earlier run's."""
        if calls.num_rows:
            first_call = pc.min(calls["call_seq"]).as_py()
            path = self.root / "api_calls" / f"extraction={extraction_id}" / f"calls-{first_call:08d}-{part}.parquet"
            _write_parquet_atomically(path, calls)

    def replace_earlier(self, manifest: Manifest) -> list[str]:
        """After a partition is extracted again, drop the pages of its earlier extractions."""
        replaced = []
        for earlier in self.manifests():
            if earlier.window_key == manifest.window_key and earlier.extraction_id != manifest.extraction_id:
                shutil.rmtree(self._pages_dir(earlier), ignore_errors=True)
                shutil.rmtree(self._quarantine_dir(earlier.extraction_id), ignore_errors=True)
                earlier.status = REPLACED
                self.save_manifest(earlier)
                replaced.append(earlier.extraction_id)
        return replaced
