"""The Parquet lake: every page lands as its own file, atomically, recorded in an extraction manifest.

A page file appears whole or not at all (write to a temp name, then rename), and the manifest is
rewritten the same way after each page. A resumed extraction trusts exactly the pages its manifest
lists, so a killed run never refetches what it committed. The manifest also records each page's and
each ledger part's row count and SHA-256, so a load can prove the lake is what was committed
(tm_pipeline/landing/integrity.py).

    <root>/trackings/window=<key>/extraction=<id>/page-000001.parquet
    <root>/api_calls/extraction=<id>/calls-00000001-page-000001.parquet
    <root>/quarantine/extraction=<id>/page-000001.parquet   only for pages with malformed items
    <root>/manifests/<id>.json

Compaction (tm_pipeline/landing/compaction.py) rewrites the files of many complete extractions of a
window into few parts, committed by a manifest of kind "compaction":

    <root>/trackings/window=<key>/compaction=<id>/part-00001.parquet
    <root>/api_calls/compaction=<id>/part-00001.parquet
    <root>/quarantine/compaction=<id>/part-00001.parquet
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

RUNNING, COMPLETE, FAILED, REPLACED = "running", "complete", "failed", "replaced"
# A complete extraction whose files were rewritten into a compaction's parts (`compacted_into`).
COMPACTED = "compacted"
EXTRACTION, COMPACTION = "extraction", "compaction"  # Manifest.kind

# 1: pages and rows only (before checksums); 2: adds page checksums and the ledger parts.
MANIFEST_FORMAT = 2

log = logging.getLogger(__name__)


class DiskFullError(OSError):
    """The disk filled up while writing `path`: nothing partial was left behind."""

    def __init__(self, path: Path, kept: str = "the partial file was removed") -> None:
        super().__init__(
            errno.ENOSPC,
            f"disk full (no space left on device) while writing {path}; {kept}. "
            f"Free space on the file system of {path.parent} and run again.",
        )
        self.path = path


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC, or DuckDB's wording of it (DuckDB raises its own exception types, without errno)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return "no space left on device" in str(error).lower()


@dataclass
class Manifest:
    extraction_id: str
    window_key: str
    params: dict[str, Any]  # frozen at start: a resumed extraction asks exactly the same question
    dagster_run_ids: list[str] = field(default_factory=list)
    status: str = RUNNING
    pages: dict[int, int] = field(default_factory=dict)  # page -> rows committed
    checksums: dict[int, str] = field(default_factory=dict)  # page -> SHA-256 (hex) of its file
    call_parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # ledger file -> {rows, sha256}
    total_reported: int | None = None
    max_updated_at: int | None = None  # unix seconds, the newest updated_at landed (server clock)
    max_created_at: int | None = None  # unix seconds, the newest created_at landed (server clock)
    drift: list[str] = field(default_factory=list)
    # Why this walk may have missed rows; when non-empty its watermarks are never used (see sync_state).
    possible_gaps: list[str] = field(default_factory=list)
    quarantined: dict[int, int] = field(default_factory=dict)  # page -> items quarantined
    quarantine_checksums: dict[int, str] = field(default_factory=dict)  # page -> SHA-256 of its quarantine file
    elapsed_s: float = 0.0
    calls: int = 0  # ledger rows landed so far; a resumed extraction numbers its calls after them
    supersedes: list[str] = field(default_factory=list)  # damaged extractions this one re-extracts
    replaced_by: str | None = None
    lost: dict[str, str] = field(default_factory=dict)  # lake-relative file -> why its loss was accepted
    rebuilt: str | None = None  # how a damaged manifest was rebuilt from the lake, if it was
    format: int = MANIFEST_FORMAT
    kind: str = EXTRACTION  # or COMPACTION: then `compacts` and `parts` say what it holds
    compacts: list[str] = field(default_factory=list)  # the extractions whose files its parts hold
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # lake-relative file -> {rows, sha256}
    compacted_into: str | None = None  # the compaction that holds this extraction's rows now
    old_files_deleted: bool = False  # a compaction: its extractions' old files are gone (not looked for again)

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
    """Write to a temporary name and rename, so `path` holds the old or the new bytes, never a part.

    On a full disk the temporary file is removed and DiskFullError names the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(payload)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if is_disk_full(error):
            raise DiskFullError(path) from error
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# raw_json is most of a page: lz4 compresses it at the least CPU on the hot path, zstd the small
# typed columns. Dictionaries only where values repeat; trying one on raw_json costs time for nothing.
_DICTIONARY_COLUMNS = [
    "carrier_code", "status", "substatus", "original_country", "destination_country", "run_id",
    "extraction_id", "window_key", "endpoint", "meta_type", "meta_message", "failure",
]


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """The writer options of every lake file (pages and compaction parts alike)."""
    return {
        "compression": {name: "lz4" if name == "raw_json" else "zstd" for name in schema.names},
        "use_dictionary": [name for name in _DICTIONARY_COLUMNS if name in schema.names],
        "write_statistics": [name for name in schema.names if name != "raw_json"],
    }


class Lake:
    """The lake's layout, and its I/O through one seam: the local disk, or an object store.

    `filesystem` is None for a local lake (pathlib: temp file + rename) or a pyarrow FileSystem
    (S3FileSystem) whose paths are `bucket/prefix/...`: `root` is then that path inside the store.
    An object PUT is atomic, so a remote file is written once under its final key; as locally, the
    manifest written after it is the commit point, and an object a killed write left behind is in
    no manifest: a stray the audit reports and no load reads."""

    def __init__(self, root: Path | str, filesystem: pafs.FileSystem | None = None) -> None:
        self.root = Path(root)
        self.filesystem = None if isinstance(filesystem, pafs.LocalFileSystem) else filesystem

    @property
    def is_local(self) -> bool:
        return self.filesystem is None

    @property
    def location(self) -> str:
        """Where the lake is, for messages: a local path or s3://bucket/prefix (never credentials)."""
        return str(self.root) if self.is_local else f"s3://{self.root}"

    # --- I/O: every read and write of a lake file goes through these ------------------------

    def read_bytes(self, path: Path) -> bytes:
        """The file's bytes; FileNotFoundError when it is not there."""
        if self.filesystem is None:
            return Path(path).read_bytes()
        try:
            with self.filesystem.open_input_stream(str(path)) as stream:
                payload: bytes = stream.read()
                return payload
        except FileNotFoundError:
            raise
        except OSError as error:
            if "not found" in str(error).lower() or "no such" in str(error).lower():
                raise FileNotFoundError(f"{self.location}/{self.relative(path)} is not in the lake") from error
            raise

    def write_bytes(self, path: Path, payload: bytes) -> None:
        """Write `path` whole or not at all: locally temp + rename, remotely one PUT under the final key."""
        if self.filesystem is None:
            _write_atomically(Path(path), payload)
            return
        with self.filesystem.open_output_stream(str(path)) as stream:
            stream.write(payload)

    def exists(self, path: Path) -> bool:
        if self.filesystem is None:
            return Path(path).exists()
        return bool(self.filesystem.get_file_info(str(path)).type == pafs.FileType.File)

    def delete_file(self, path: Path) -> None:
        if self.filesystem is None:
            Path(path).unlink(missing_ok=True)
        elif self.exists(path):
            self.filesystem.delete_file(str(path))

    def delete_dir(self, path: Path) -> None:
        if self.filesystem is None:
            shutil.rmtree(path, ignore_errors=True)
        elif self.filesystem.get_file_info(str(path)).type == pafs.FileType.Directory:
            self.filesystem.delete_dir(str(path))

    def move(self, source: Path, target: Path) -> None:
        if self.filesystem is None:
            os.replace(source, target)
        else:
            self.filesystem.move(str(source), str(target))

    def glob(self, pattern: str) -> list[Path]:
        """Files matching `pattern` (relative to the root, `*` within one folder level), sorted."""
        if self.filesystem is None:
            return sorted(self.root.glob(pattern))
        fixed = []
        for part in pattern.split("/"):
            if any(char in part for char in "*?["):
                break
            fixed.append(part)
        base = self.root.joinpath(*fixed)
        selector = pafs.FileSelector(str(base), recursive=True, allow_not_found=True)
        depth = len(pattern.split("/"))
        found = []
        for info in self.filesystem.get_file_info(selector):
            relative = self.relative(Path(info.path))
            if len(relative.split("/")) == depth and fnmatch.fnmatchcase(relative, pattern):
                found.append(Path(info.path))
        return sorted(found)

    def folders(self, pattern: str) -> list[Path]:
        """Folders matching `pattern` (relative to the root), sorted: locally on disk, remotely the
        prefixes of the files under them (an object store has no empty folders)."""
        if self.filesystem is None:
            return sorted(path for path in self.root.glob(pattern) if path.is_dir())
        depth = len(pattern.split("/"))
        prefixes = {
            self.root.joinpath(*self.relative(path).split("/")[:depth])
            for path in self.glob(pattern + "/*") + self.glob(pattern + "/*/*")
        }
        return sorted(prefixes)

    def parquet_metadata(self, path: Path) -> pq.FileMetaData:
        if self.filesystem is None:
            return pq.read_metadata(path)
        return pq.read_metadata(pa.BufferReader(self.read_bytes(path)))

    def sha256(self, path: Path) -> str:
        if self.filesystem is None:
            return file_sha256(Path(path))
        return hashlib.sha256(self.read_bytes(path)).hexdigest()

    @property
    def trackings_glob(self) -> str:
        return str(self.root / "trackings" / "*" / "*" / "*.parquet")

    @property
    def quarantine_glob(self) -> str:
        return str(self.root / "quarantine" / "*" / "*.parquet")

    @property
    def api_calls_glob(self) -> str:
        return str(self.root / "api_calls" / "*" / "*.parquet")

    def _under(self, *parts: str) -> Path:
        """A path under the root, parsed once: the audit builds thousands per load, and a chain of
        pathlib joins costs twice one parse of the joined string."""
        return Path("/".join((str(self.root), *parts)))

    def _manifest_path(self, extraction_id: str) -> Path:
        return self._under("manifests", f"{extraction_id}.json")

    def _pages_dir(self, manifest: Manifest) -> Path:
        return self._under("trackings", f"window={manifest.window_key}", f"extraction={manifest.extraction_id}")

    def page_path(self, manifest: Manifest, page: int) -> Path:
        return self._under(
            "trackings", f"window={manifest.window_key}", f"extraction={manifest.extraction_id}",
            f"page-{page:06d}.parquet",
        )

    def _quarantine_dir(self, extraction_id: str) -> Path:
        return self._under("quarantine", f"extraction={extraction_id}")

    def quarantine_path(self, manifest: Manifest, page: int) -> Path:
        return self._under("quarantine", f"extraction={manifest.extraction_id}", f"page-{page:06d}.parquet")

    def calls_dir(self, extraction_id: str) -> Path:
        return self._under("api_calls", f"extraction={extraction_id}")

    def _manifest_files(self) -> list[Path]:
        """`manifests/*.json`, sorted; locally listed with scandir (a glob matches and sorts Paths, slower)."""
        if self.filesystem is not None:
            return self.glob("manifests/*.json")
        try:
            names = sorted(
                entry.name for entry in os.scandir(self._under("manifests"))
                if entry.name.endswith(".json") and not entry.name.startswith(".") and entry.is_file()
            )
        except FileNotFoundError:
            return []
        return [self._under("manifests", name) for name in names]

    def _write_parquet(self, path: Path, table: pa.Table) -> str:
        """Land `table` at `path` whole or not at all; returns the SHA-256 of the bytes written.

        The file is encoded in memory and hashed there, so the checksum is of exactly the bytes
        committed, without reading the file back."""
        encoded = pa.BufferOutputStream()
        pq.write_table(table, encoded, **parquet_options(table.schema))
        payload = encoded.getvalue()
        self.write_bytes(path, payload.to_pybytes() if self.filesystem is not None else payload)
        return hashlib.sha256(payload).hexdigest()

    def compaction_dirs(self, compaction: Manifest) -> dict[str, Path]:
        """Where a compaction's parts go, by the folder they mirror: trackings, api_calls, quarantine."""
        cid = compaction.extraction_id
        return {
            "trackings": self.root / "trackings" / f"window={compaction.window_key}" / f"compaction={cid}",
            "api_calls": self.root / "api_calls" / f"compaction={cid}",
            "quarantine": self.root / "quarantine" / f"compaction={cid}",
        }

    def write_part(self, path: Path, payload: bytes) -> None:
        """Land one encoded compaction part under its final name, whole or not at all."""
        self.write_bytes(path, payload)

    def delete_extraction_files(self, manifest: Manifest, keep_ledger: bool = True) -> None:
        """Delete an extraction's (or a compaction's) pages and quarantine, and its ledger unless kept."""
        if manifest.kind == COMPACTION:
            folders = self.compaction_dirs(manifest)
            doomed = [folders["trackings"], folders["quarantine"]] + ([] if keep_ledger else [folders["api_calls"]])
        else:
            doomed = [self._pages_dir(manifest), self._quarantine_dir(manifest.extraction_id)]
            doomed += [] if keep_ledger else [self.calls_dir(manifest.extraction_id)]
        for folder in doomed:
            self.delete_dir(folder)

    def relative(self, path: Path) -> str:
        """How the manifests and messages name a lake file: relative to the lake root."""
        text, root = str(path), str(self.root)
        if text.startswith(root + os.sep):  # called for every file of every load: skip pathlib's parsing
            return text[len(root) + 1:]
        return str(Path(path).relative_to(self.root))

    def save_manifest(self, manifest: Manifest) -> None:
        document = asdict(manifest)
        document["pages"] = {str(page): rows for page, rows in sorted(manifest.pages.items())}
        document["checksums"] = {str(page): digest for page, digest in sorted(manifest.checksums.items())}
        document["quarantined"] = {str(page): items for page, items in sorted(manifest.quarantined.items())}
        document["quarantine_checksums"] = {
            str(page): digest for page, digest in sorted(manifest.quarantine_checksums.items())
        }
        self.write_bytes(self._manifest_path(manifest.extraction_id), json.dumps(document, indent=2).encode())

    def manifests(self) -> list[Manifest]:
        """Every manifest, oldest extraction first (ids start with their UTC start time).

        A manifest that cannot be read (truncated JSON, a crash mid-write on a file system without
        atomic rename) is healed here, so one damaged file never fails every later run: rebuilt
        from the lake where the lake allows, else moved aside (see manifest_repair)."""
        from tm_pipeline.landing.manifest_repair import heal_manifest

        found = []
        for path in self._manifest_files():
            try:
                found.append(parse_manifest(self.read_bytes(path)))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                healed = heal_manifest(self, path, error)
                if healed is not None:
                    found.append(healed)
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
            digest = self._write_parquet(self.quarantine_path(manifest, page), quarantine)
            manifest.quarantine_checksums[page] = digest
            manifest.quarantined[page] = quarantine.num_rows
        else:  # a run killed between the two writes may have left one for this page
            self.delete_file(self.quarantine_path(manifest, page))
            manifest.quarantined.pop(page, None)
            manifest.quarantine_checksums.pop(page, None)
        path = self.page_path(manifest, page)
        digest = self._write_parquet(path, trackings)
        self.commit_calls(manifest, calls, part=f"page-{page:06d}")
        manifest.pages[page] = trackings.num_rows
        manifest.checksums[page] = digest
        self.save_manifest(manifest)
        return path

    def commit_calls(self, manifest: Manifest, calls: pa.Table, part: str) -> None:
        """Ledger rows are kept for every extraction, replaced or not: they are the evidence.

        A file is named by its first `call_seq`, which an extraction never reuses, so a resumed
        run's files cannot overwrite an earlier run's. The part is recorded in `manifest` (saved
        by the caller) with its rows and checksum."""
        if calls.num_rows:
            first_call = pc.min(calls["call_seq"]).as_py()
            name = f"calls-{first_call:08d}-{part}.parquet"
            digest = self._write_parquet(self.calls_dir(manifest.extraction_id) / name, calls)
            manifest.call_parts[name] = {"rows": calls.num_rows, "sha256": digest}

    def replace_earlier(self, manifest: Manifest) -> list[str]:
        """After a partition is extracted again, drop the pages of its earlier extractions."""
        earlier = [
            m.extraction_id for m in self.manifests()
            if m.window_key == manifest.window_key and m.extraction_id != manifest.extraction_id
        ]
        return self.retire(manifest, earlier)

    def retire(self, manifest: Manifest, extraction_ids: list[str]) -> list[str]:
        """Mark `extraction_ids` replaced by `manifest` and delete their pages (their ledger stays).

        A compaction is retired with the last of the extractions it holds: until then its parts
        still hold the rows of the others (a repair re-extracts every one of a damaged compaction)."""
        retired = []
        manifests = self.manifests()
        for earlier in manifests:
            if earlier.extraction_id in extraction_ids and earlier.status != REPLACED:
                self.delete_extraction_files(earlier)
                earlier.status = REPLACED
                earlier.replaced_by = manifest.extraction_id
                self.save_manifest(earlier)
                retired.append(earlier.extraction_id)
        status = {m.extraction_id: m.status for m in manifests}
        for compaction in manifests:
            if (
                compaction.kind == COMPACTION and compaction.status != REPLACED
                and all(status.get(member) == REPLACED for member in compaction.compacts)
            ):
                self.delete_extraction_files(compaction)
                compaction.status = REPLACED
                compaction.replaced_by = manifest.extraction_id
                self.save_manifest(compaction)
                retired.append(compaction.extraction_id)
        return retired


def open_lake(uri: str, s3_endpoint_url: str = "") -> Lake:
    """The lake at `uri`: a local folder, or `s3://bucket/prefix` on S3 or an S3-compatible store.

    Credentials come from the standard AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, or an instance role), never from the pipeline's
    configuration, so no setting, log line or event carries them."""
    if not uri.startswith("s3://"):
        return Lake(Path(uri))
    location = uri.removeprefix("s3://").strip("/")
    if not location:
        raise ValueError(f"the lake URI {uri!r} names no bucket: use s3://<bucket>[/<prefix>]")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    options: dict[str, Any] = {"region": region}
    if s3_endpoint_url:
        parsed = urlparse(s3_endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"the S3 endpoint {s3_endpoint_url!r} is not an http(s) URL; set it like http://127.0.0.1:9000"
            )
        options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme)
    return Lake(Path(location), pafs.S3FileSystem(**options))


def parse_manifest(payload: bytes) -> Manifest:
    """A manifest from its JSON; one written before checksums (no `format`) reads as format 1."""
    document = orjson.loads(payload)  # thousands per load: orjson parses them several times faster than json
    document["pages"] = {int(page): rows for page, rows in document["pages"].items()}
    document["checksums"] = {int(page): digest for page, digest in document.get("checksums", {}).items()}
    for by_page in ("quarantined", "quarantine_checksums"):  # absent from manifests older than the quarantine
        document[by_page] = {int(page): value for page, value in document.get(by_page, {}).items()}
    document.setdefault("format", 1)
    return Manifest(**document)
