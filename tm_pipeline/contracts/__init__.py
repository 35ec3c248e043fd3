"""Contracts shared by several stages: the lowest layer, importing nothing else of the pipeline.

A name lives here when more than one stage (or Python and SQL) must agree on it: the Arrow field
helpers every lake schema is built from, the Dagster pool of the DuckDB file, the outcome
vocabulary of API calls, the window-key prefix of created-day partitions. A stage that owned one
of these would force the stages before it to reach forward into it (see docs/architecture.md).
"""
