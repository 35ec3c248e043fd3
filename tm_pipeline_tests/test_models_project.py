"""The runner's pure parts: config blocks, ref()/source() rendering, ordering, schema.yml reading."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from tm_pipeline.models.data_tests import compile_tests, run_test
from tm_pipeline.models.graph import build_order
from tm_pipeline.models.project import ProjectError, find_refs, find_sources, load_project, parse_config
from tm_pipeline.models.render import render_sql

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"


PROJECT_YML = 'model-paths: ["staging", "marts"]\ntest-paths: ["tests"]\n'


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if not (root / "dbt_project.yml").exists():
        (root / "dbt_project.yml").write_text(PROJECT_YML)
        for folder in ("staging", "marts"):
            (root / folder).mkdir(exist_ok=True)


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


@pytest.mark.parametrize(
    "sql",
    [
        "select 1\n{% for x in [1] %} where 1 {% endfor %}",
        "select 1\n{% if var('x') %} where 1 {% endif %}",
        "select 1\n{% if is_incremental() %} where 1 {% else %} where 2 {% endif %}",
        "select 1\n{% if is_incremental() %} where {% if is_incremental() %} 1 {% endif %} {% endif %}",
        "select 1\n{% if is_incremental() %} where 1",
        "select 1 from {{ this }}\n",
        "select 1\n{{ 1 + 1 }}",
    ],
)
@pytest.mark.parametrize("incremental", [False, True])
def test_render_refuses_other_jinja_so_the_folder_stays_dbt_portable(sql, incremental):
    """is_incremental() blocks are the one construct beyond ref/source/config/var: flat, no else."""
    with pytest.raises(ProjectError, match="line [12]"):
        render_sql(sql, incremental=incremental)


def test_render_keeps_an_is_incremental_block_only_on_an_incremental_run():
    sql = (
        "select * from {{ ref('m') }}\n{%- if is_incremental() -%}\n"
        "where id in (select id from {{ source('raw', 'c') }})\n{% endif %}"
    )
    assert render_sql(sql, incremental=True) == "select * from main.m\n\nwhere id in (select id from raw.c)"
    assert render_sql(sql, incremental=False) == "select * from main.m"


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


def test_only_the_folders_dbt_project_names_are_read(tmp_path):
    """dbt writes target/ and logs/ (compiled copies of every model) inside the project folder:
    reading them as models would describe every model twice and fail the load."""
    write(tmp_path, "marts/a.sql", "select 1 as x")
    write(tmp_path, "marts/schema.yml", "models:\n  - name: a\n    description: the model\n")
    write(tmp_path, "target/compiled/tm_pipeline/marts/a.sql", "select 1 as x")
    write(tmp_path, "target/run/tm_pipeline/marts/schema.yml/not_null_a_x.sql", "select 1")
    write(tmp_path, "target/graph_summary.yml", "models:\n  - name: a\n")
    write(tmp_path, "logs/dbt.sql", "select 1")
    write(tmp_path, "tests/a_ok.sql", "select * from {{ ref('a') }} where x < 0")
    project = load_project(tmp_path)
    assert set(project.models) == {"a"}
    assert project.models["a"].description == "the model"
    assert [test.name for test in project.singular_tests] == ["a_ok"]


def test_model_paths_from_dbt_project_decide_what_is_a_model(tmp_path):
    write(tmp_path, "marts/a.sql", "select 1 as x")
    write(tmp_path, "scratch/b.sql", "select 2 as x")
    (tmp_path / "dbt_project.yml").write_text('model-paths: ["marts", "scratch"]\n')
    assert set(load_project(tmp_path).models) == {"a", "b"}
    (tmp_path / "dbt_project.yml").write_text('model-paths: ["marts"]\n')
    assert set(load_project(tmp_path).models) == {"a"}


def test_missing_dbt_project_file_is_explained(tmp_path):
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "a.sql").write_text("select 1")
    with pytest.raises(ProjectError, match=r"dbt_project\.yml is missing.*model-paths"):
        load_project(tmp_path)


def test_model_path_that_is_not_a_folder_is_named(tmp_path):
    write(tmp_path, "marts/a.sql", "select 1")
    (tmp_path / "dbt_project.yml").write_text('model-paths: ["marts", "martz"]\n')
    with pytest.raises(ProjectError, match="'martz'"):
        load_project(tmp_path)


def test_generic_test_arguments_in_either_dbt_spelling_compile_the_same(tmp_path):
    """dbt >= 1.10 wants test arguments under `arguments:` (the old top-level form is deprecated);
    the runner must read both alike."""
    column = "models:\n  - name: a\n    columns:\n      - name: x\n        data_tests:\n"
    write(tmp_path, "marts/a.sql", "select 1 as x")
    write(tmp_path, "marts/schema.yml", column + "          - accepted_values: {values: [1, 2]}\n")
    old_form = load_project(tmp_path).generic_tests
    write(tmp_path, "marts/schema.yml", column + "          - accepted_values: {arguments: {values: [1, 2]}}\n")
    new_form = load_project(tmp_path).generic_tests
    assert old_form == new_form and new_form[0].arguments == {"values": [1, 2]}


def test_project_folder_uses_the_current_dbt_argument_form():
    """Arguments outside `arguments:` make dbt print a deprecation warning per test."""
    for yml_path in SQL_DIR.rglob("schema.yml"):
        for model in yaml.safe_load(yml_path.read_text()).get("models") or []:
            for column in model.get("columns") or []:
                for declaration in column.get("data_tests") or []:
                    if isinstance(declaration, dict):
                        ((kind, body),) = declaration.items()
                        assert set(body) <= {"arguments", "config"}, (yml_path, model["name"], kind)


def test_arguments_that_are_not_a_mapping_are_refused_with_the_test_named(tmp_path):
    write(tmp_path, "marts/a.sql", "select 1 as x")
    write(
        tmp_path,
        "marts/schema.yml",
        "models:\n  - name: a\n    columns:\n      - name: x\n        data_tests:\n"
        "          - accepted_values: {arguments: [1, 2]}\n",
    )
    with pytest.raises(ProjectError, match=r"schema\.yml: accepted_values on a\.x: `arguments:` must be a mapping"):
        load_project(tmp_path)


GRAIN_SCHEMA = """
version: 2
models:
  - name: lanes
    description: one row per lane
    data_tests:
      - unique:
          arguments: {column_name: "row(origin, destination)"}
    columns:
      - {name: origin, description: o}
      - {name: destination, description: d}
"""


def test_a_grain_test_on_the_model_counts_duplicate_lanes_null_ones_included(tmp_path):
    """A model-level `unique` over row(...) (the grain tests of the marts) finds a lane twice even
    when a country is NULL, which a plain column `unique` skips; a clean grain passes."""
    write(tmp_path, "marts/lanes.sql", "select 1")
    write(tmp_path, "marts/schema.yml", GRAIN_SCHEMA)
    (test,) = [t for t in compile_tests(load_project(tmp_path)) if t.name == "unique_lanes_origin_destination"]
    with duckdb.connect() as connection:
        connection.execute(
            "create table main.lanes as select * from (values ('DE', 'FR'), ('DE', null), ('DE', null), "
            "(null, null), (null, null), ('NL', 'FR')) as t(origin, destination)"
        )
        assert run_test(connection, test).failures == 2  # (DE, NULL) and (NULL, NULL), each twice
        connection.execute("create or replace table main.lanes as select distinct * from main.lanes")
        assert run_test(connection, test).passed


def test_a_test_on_the_model_without_column_name_is_refused_with_the_model_named(tmp_path):
    write(tmp_path, "marts/lanes.sql", "select 1")
    write(tmp_path, "marts/schema.yml", GRAIN_SCHEMA.replace('arguments: {column_name: "row(origin, destination)"}',
                                                             "config: {severity: error}"))
    with pytest.raises(ProjectError, match="unique declared on model lanes needs `column_name:`"):
        load_project(tmp_path)


def test_every_mart_has_a_grain_test():
    """A mart without a test that its rows are unique over its grain can double-count silently.
    data_as_of is exempt: it is one aggregate row over everything, it has no grain columns."""
    project = load_project(SQL_DIR)
    marts = {name for name, model in project.models.items() if model.layer == "marts"} - {"data_as_of"}
    with_grain = {test.model for test in project.generic_tests if test.kind == "unique"}
    assert marts - with_grain == set()


def test_var_renders_the_declared_value_as_jinja_writes_it():
    variables = {"holidays": ["2024-05-27", "2024-07-04"], "days": 5}
    sql = "select cast({{ var('holidays') }} as date[]) as h, {{ var(\"days\") }} as d"
    assert render_sql(sql, variables=variables) == (
        "select cast(['2024-05-27', '2024-07-04'] as date[]) as h, 5 as d"
    )


def test_undeclared_var_names_the_file_the_var_and_where_to_declare_it():
    with pytest.raises(ProjectError, match=r"x\.sql: var\('days'\) is not declared: add it under `vars:`"):
        render_sql("select {{ var('days') }}", "x.sql", variables={})


def test_vars_of_dbt_project_reach_models_and_singular_tests(tmp_path):
    write(tmp_path, "marts/a.sql", "select {{ var('limit_days') }} as x")
    write(tmp_path, "tests/a_small.sql", "select * from {{ ref('a') }} where x > {{ var('limit_days') }}")
    (tmp_path / "dbt_project.yml").write_text(PROJECT_YML + "vars:\n  limit_days: 7\n")
    project = load_project(tmp_path)
    model, (test,) = project.models["a"], project.singular_tests
    assert render_sql(model.sql, variables=model.variables) == "select 7 as x"
    assert render_sql(test.sql, variables=test.variables).endswith("where x > 7")


def test_vars_that_are_not_a_mapping_are_refused_naming_the_file(tmp_path):
    write(tmp_path, "marts/a.sql", "select 1 as x")
    (tmp_path / "dbt_project.yml").write_text(PROJECT_YML + "vars: [limit_days]\n")
    with pytest.raises(ProjectError, match=r"dbt_project\.yml: vars must be a mapping"):
        load_project(tmp_path)
