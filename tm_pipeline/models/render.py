"""Turn a model's dbt-style SQL into plain DuckDB SQL.

ref('x') becomes `main.x` and source('raw', 't') becomes `raw.t`, which is what dbt-duckdb
renders for this project's single database; config() blocks are dropped; var('x') becomes the
value dbt_project.yml declares, written as Jinja writes it (str(): 5, ['2024-01-01']);
`{% if is_incremental() %} ... {% endif %}` keeps its body on an incremental run of an incremental
model and drops it otherwise, as dbt does. Anything else in Jinja braces is refused (an else, a
nested block, `{{ this }}`), so the folder never grows syntax that only this runner understands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tm_pipeline.models.project import (
    CONFIG_PATTERN,
    INCREMENTAL_BLOCK_PATTERN,
    REF_PATTERN,
    SOURCE_PATTERN,
    VAR_PATTERN,
    ProjectError,
)

MODEL_SCHEMA = "main"
LEFTOVER_JINJA = re.compile(r"\{\{|\{%|\{#")
LEFTOVER_BLOCK = re.compile(r"\{%")


def _variable(name: str, variables: Mapping[str, Any], where: str) -> str:
    if name not in variables:
        raise ProjectError(
            f"{where}: var({name!r}) is not declared: add it under `vars:` in dbt_project.yml"
        )
    return str(variables[name])


def _incremental_block(match: re.Match[str], sql: str, where: str, incremental: bool) -> str:
    body = match["body"]
    if LEFTOVER_BLOCK.search(body):
        line = sql[: match.start()].count("\n") + 1
        raise ProjectError(
            f"{where}: line {line}: an is_incremental() block holds another {{% %}} block; "
            "write one flat {% if is_incremental() %} ... {% endif %} (no else, no nesting)"
        )
    return body if incremental else ""


def render_sql(
    sql: str,
    where: str = "<sql>",
    variables: Mapping[str, Any] | None = None,
    incremental: bool = False,
    relations: Mapping[str, str] | None = None,
) -> str:
    """Plain SQL for DuckDB; raises ProjectError on Jinja other than ref/source/config/var and
    is_incremental() blocks. `incremental` is what is_incremental() returns: the caller knows
    whether the model is incremental, already built, and not being fully refreshed. `relations`
    renders ref('x') as another relation (a data test over some rows of x)."""
    declared = variables or {}
    replaced = relations or {}
    configless = CONFIG_PATTERN.sub("", sql)
    rendered = INCREMENTAL_BLOCK_PATTERN.sub(
        lambda match: _incremental_block(match, configless, where, incremental), configless
    )
    rendered = VAR_PATTERN.sub(lambda match: _variable(match["name"], declared, where), rendered)
    rendered = REF_PATTERN.sub(
        lambda match: replaced.get(match["name"], f"{MODEL_SCHEMA}.{match['name']}"), rendered
    )
    rendered = SOURCE_PATTERN.sub(lambda match: f"{match['source']}.{match['table']}", rendered)
    leftover = LEFTOVER_JINJA.search(rendered)
    if leftover:
        line = rendered[: leftover.start()].count("\n") + 1
        raise ProjectError(
            f"{where}: line {line}: only {{{{ ref() }}}}, {{{{ source() }}}}, {{{{ config() }}}}, "
            "{{ var('name') }} and {% if is_incremental() %} ... {% endif %} are supported"
        )
    return rendered.strip().rstrip(";").strip()
