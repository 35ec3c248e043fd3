"""Self-describing Arrow fields: the documentation travels into Parquet and Dagster's column metadata.

Pure pyarrow, so the lake schemas built from it stay importable without Dagster.
"""

from __future__ import annotations

import pyarrow as pa

UTC_US = pa.timestamp("us", tz="UTC")


def described(name: str, arrow_type: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    """A field that carries its own documentation, into Parquet and Dagster's column metadata."""
    return pa.field(name, arrow_type, nullable=nullable, metadata={"description": description})
