"""Dagster column metadata from the described Arrow schemas of the lake and the warehouse.

Apart from contracts/fields.py because it needs Dagster, which the schemas themselves do not.
"""

from __future__ import annotations

import dagster as dg
import pyarrow as pa


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
