"""The runner's pure parts: config blocks, ref()/source() rendering, ordering, schema.yml reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from tm_pipeline.models.graph import build_order
from tm_pipeline.models.project import ProjectError, find_refs, find_sources, load_project, parse_config
from tm_pipeline.models.render import render_sql

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_config_block_is_read_as_literals():
    sql = "{{ config(materialized='incremental', unique_key=['a', \"b\"]) }}\nselect 1"
    assert parse_config(sql) == {"materialized": "incremental", "unique_key": ["a", "b"]}


def test_file_without_config_block_has_empty_config():
    assert parse_config("select 1") == {}


def test_config_with_code_instead_of_literals_is_refused():
    with pytest.raises(ProjectError, match="cannot read config"):
        parse_config("{{ config(materialized=__import__('os').getcwd()) }} select 1")


def test_refs_and_sources_are_found_with_either_quote_and_spacing():
    sql = "select * from {{ref('a')}} join {{ ref( \"b\" ) }} join {{ source('raw', 't') }} join {{ref('a')}}"
    assert find_refs(sql) == ("a", "b")
    assert find_sources(sql) == (("raw", "t"),)


def test_render_substitutes_main_and_raw_and_drops_config():
    sql = (
        "{{ config(materialized='table') }}\n"
        "select * from {{ ref('m') }} join {{ source('raw','trackings') }};\n"
    )
    assert render_sql(sql) == "select * from main.m join raw.trackings"


def test_render_refuses_other_jinja_so_the_folder_stays_dbt_portable():
    with pytest.raises(ProjectError, match="line 2"):
        render_sql("select 1\n{% if is_incremental() %} where 1 {% endif %}")


def test_unknown_ref_names_the_file_and_the_missing_model(tmp_path):
    write(tmp_path, "marts/b.sql", "select * from {{ ref('a') }}")
    project = load_project(tmp_path)
    with pytest.raises(ProjectError, match=r"b\.sql.*'a'"):
        build_order(project.models)


def test_cycle_is_reported_with_its_path(tmp_path):
    write(tmp_path, "marts/a.sql", "select * from {{ ref('b') }}")
    write(tmp_path, "marts/b.sql", "select * from {{ ref('a') }}")
    with pytest.raises(ProjectError, match="cycle"):
        build_order(load_project(tmp_path).models)


def test_undeclared_source_is_refused(tmp_path):
    write(tmp_path, "staging/s.sql", "select * from {{ source('raw', 'nope') }}")
    write(tmp_path, "staging/schema.yml", "sources:\n  - name: raw\n    tables:\n      - name: trackings\n")
    project = load_project(tmp_path)
    with pytest.raises(ProjectError, match="raw.nope"):
        build_order(project.models, project.sources)


def test_order_puts_every_model_after_its_refs():
    project = load_project(SQL_DIR)
    order = build_order(project.models, project.sources)
    for name in order:
        for ref in project.models[name].refs:
            assert order.index(ref) < order.index(name)


def test_unknown_materialization_is_refused(tmp_path):
    write(tmp_path, "marts/a.sql", "{{ config(materialized='ephemeral') }} select 1")
    with pytest.raises(ProjectError, match="materialized"):
        load_project(tmp_path)


def test_schema_yml_tests_get_their_severity_and_arguments(tmp_path):
    write(tmp_path, "marts/a.sql", "select 1 as x")
    write(
        tmp_path,
        "marts/schema.yml",
        "models:\n  - name: a\n    columns:\n      - name: x\n        data_tests:\n"
        "          - not_null\n"
        "          - accepted_values:\n"
        "              arguments: {values: [1]}\n"
        "              config: {severity: warn}\n",
    )
    tests = load_project(tmp_path).generic_tests
    assert [(t.kind, t.severity, t.arguments) for t in tests] == [
        ("not_null", "error", {}),
        ("accepted_values", "warn", {"values": [1]}),
    ]


def test_singular_test_attaches_to_its_first_ref(tmp_path):
    write(tmp_path, "marts/a.sql", "select 1 as x")
    sql = "{{ config(severity='warn') }}\nselect * from {{ ref('a') }} where x < 0"
    write(tmp_path, "tests/a_positive.sql", sql)
    (test,) = load_project(tmp_path).singular_tests
    assert (test.name, test.model, test.severity) == ("a_positive", "a", "warn")


def test_project_folder_documents_every_model_and_column():
    project = load_project(SQL_DIR)
    for model in project.models.values():
        assert model.description, model.name
        assert model.columns, model.name
        assert all(column.description for column in model.columns), model.name
