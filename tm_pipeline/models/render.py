"""Turn a model's dbt-style SQL into plain DuckDB SQL.

ref('x') becomes `main.x` and source('raw', 't') becomes `raw.t`, which is what dbt-duckdb
renders for this project's single database; config() blocks are dropped. Anything else in
Jinja braces is refused, so the folder never grows syntax that only this runner understands.
"""

from __future__ import annotations

import re

from tm_pipeline.models.project import CONFIG_PATTERN, REF_PATTERN, SOURCE_PATTERN, ProjectError

MODEL_SCHEMA = "main"
LEFTOVER_JINJA = re.compile(r"\{\{|\{%|\{#")


def render_sql(sql: str, where: str = "<sql>") -> str:
    """Plain SQL for DuckDB; raises ProjectError on Jinja other than ref/source/config."""
    rendered = CONFIG_PATTERN.sub("", sql)
    rendered = REF_PATTERN.sub(lambda match: f"{MODEL_SCHEMA}.{match['name']}", rendered)
    rendered = SOURCE_PATTERN.sub(lambda match: f"{match['source']}.{match['table']}", rendered)
    leftover = LEFTOVER_JINJA.search(rendered)
    if leftover:
        line = rendered[: leftover.start()].count("\n") + 1
        raise ProjectError(
            f"{where}: line {line}: only {{{{ ref() }}}}, {{{{ source() }}}} and {{{{ config() }}}} "
            "are supported"
        )
    return rendered.strip().rstrip(";").strip()
