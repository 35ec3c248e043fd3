"""The Parquet lake: every page lands as its own file, atomically, recorded in a run manifest.

A page file appears whole or not at all (write to a temp name, then rename), and the manifest is
rewritten the same way after each page. A reader — or a resumed run — trusts exactly the pages
the manifest lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass
class RunManifest:
    run_id: str
    params: dict[str, Any]
    status: str = "running"  # running | complete | failed
    pages: dict[int, int] = field(default_factory=dict)  # page -> rows committed
    total_reported: int | None = None

    @property
    def rows(self) -> int:
        return sum(self.pages.values())


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


def _write_parquet_atomically(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def trackings_glob(self) -> str:
        return str(self.root / "trackings" / "*" / "*.parquet")

    @property
    def api_calls_glob(self) -> str:
        return str(self.root / "api_calls" / "*" / "*.parquet")

    def _manifest_path(self, run_id: str) -> Path:
        return self.root / "manifests" / f"{run_id}.json"

    def page_path(self, run_id: str, page: int) -> Path:
        return self.root / "trackings" / f"run={run_id}" / f"page-{page:06d}.parquet"

    def start_run(self, run_id: str, params: dict[str, Any]) -> RunManifest:
        manifest = RunManifest(run_id=run_id, params=params)
        self.save_manifest(manifest)
        return manifest

    def save_manifest(self, manifest: RunManifest) -> None:
        document = {
            "run_id": manifest.run_id,
            "params": manifest.params,
            "status": manifest.status,
            "pages": {str(page): rows for page, rows in sorted(manifest.pages.items())},
            "total_reported": manifest.total_reported,
        }
        _write_atomically(self._manifest_path(manifest.run_id), orjson.dumps(document, option=orjson.OPT_INDENT_2))

    def load_manifest(self, run_id: str) -> RunManifest | None:
        path = self._manifest_path(run_id)
        if not path.exists():
            return None
        document = orjson.loads(path.read_bytes())
        return RunManifest(
            run_id=document["run_id"],
            params=document["params"],
            status=document["status"],
            pages={int(page): rows for page, rows in document["pages"].items()},
            total_reported=document["total_reported"],
        )

    def commit_page(self, manifest: RunManifest, page: int, trackings: pa.Table, calls: pa.Table) -> Path:
        """Land a page and the ledger rows that produced it, then record both in the manifest."""
        path = self.page_path(manifest.run_id, page)
        _write_parquet_atomically(path, trackings)
        self.commit_calls(manifest.run_id, calls, part=f"page-{page:06d}")
        manifest.pages[page] = trackings.num_rows
        self.save_manifest(manifest)
        return path

    def commit_calls(self, run_id: str, calls: pa.Table, part: str) -> None:
        if calls.num_rows:
            path = self.root / "api_calls" / f"run={run_id}" / f"calls-{part}.parquet"
            _write_parquet_atomically(path, calls)
