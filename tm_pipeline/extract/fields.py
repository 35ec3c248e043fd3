"""Self-describing Arrow fields: the documentation travels into Parquet and Dagster's column metadata."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

UTC_US = pa.timestamp("us", tz="UTC")


def described(name: str, arrow_type: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    """A field that carries its own documentation, into Parquet and Dagster's column metadata."""
    return pa.field(name, arrow_type, nullable=nullable, metadata={"description": description})


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """Dagster column metadata from a described Arrow schema."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                field.name,
                str(field.type),
                description=(field.metadata or {}).get(b"description", b"").decode(),
            )
            for field in schema
        ]
    )
