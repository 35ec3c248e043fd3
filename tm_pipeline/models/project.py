"""Read a dbt-style SQL folder into plain data: models, their config, refs, sources, docs and tests.

The folder stays within the part of dbt that dbt-duckdb also runs (Jinja only for `ref()`,
`source()`, `config()`, `var()` and `{% if is_incremental() %}` blocks), so it can move to dbt
unchanged; this module is the only place that knows the file layout. Like dbt, it reads only the
folders `dbt_project.yml` names, so whatever dbt writes beside them (`target/`, `logs/`,
`dbt_packages/`) is never mistaken for a model.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MATERIALIZATIONS = ("view", "table", "incremental")
# The one strategy the runner implements, as dbt-duckdb does: delete the rows whose unique_key
# the new rows carry, then insert the new rows.
INCREMENTAL_STRATEGIES = ("delete+insert",)
SEVERITIES = ("error", "warn")
GENERIC_TESTS = ("unique", "not_null", "accepted_values", "relationships")
PROJECT_FILE = "dbt_project.yml"
# dbt's defaults when dbt_project.yml leaves a key out
DEFAULT_MODEL_PATHS = ("models",)
DEFAULT_TEST_PATHS = ("tests",)

CONFIG_PATTERN = re.compile(r"\{\{\s*config\((?P<args>.*?)\)\s*\}\}", re.DOTALL)
REF_PATTERN = re.compile(r"\{\{\s*ref\(\s*['\"](?P<name>\w+)['\"]\s*\)\s*\}\}")
# var('name') only, without a default: every variable is declared under `vars:` in dbt_project.yml,
# so the runner and dbt read one value from one place.
VAR_PATTERN = re.compile(r"\{\{\s*var\(\s*['\"](?P<name>\w+)['\"]\s*\)\s*\}\}")
# `{% if is_incremental() %} ... {% endif %}`, dbt's spelling, with optional whitespace control
# dashes; no else, no nesting (the body is checked for other blocks when it is rendered).
INCREMENTAL_BLOCK_PATTERN = re.compile(
    r"\{%-?\s*if\s+is_incremental\(\s*\)\s*-?%\}(?P<body>.*?)\{%-?\s*endif\s*-?%\}", re.DOTALL
)
SOURCE_PATTERN = re.compile(
    r"\{\{\s*source\(\s*['\"](?P<source>\w+)['\"]\s*,\s*['\"](?P<table>\w+)['\"]\s*\)\s*\}\}"
)


class ProjectError(ValueError):
    """The SQL folder cannot be built as written; the message names the file and the fix."""


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str = ""
    data_type: str | None = None


@dataclass(frozen=True)
class GenericTest:
    """A `unique` / `not_null` / `accepted_values` / `relationships` test declared in schema.yml."""

    kind: str
    model: str
    column: str
    severity: str
    arguments: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # config: {tags: [...]}, as dbt reads them (e.g. full_history)

    @property
    def name(self) -> str:
        # A model-level test's column is an expression, e.g. a grain "(origin, destination)":
        # its name keeps only the identifiers, as a Dagster check name must.
        return f"{self.kind}_{self.model}_" + "_".join(re.findall(r"\w+\b(?!\s*\()", self.column))


@dataclass(frozen=True)
class SingularTest:
    """A SQL file under tests/ that returns the failing rows; it is attached to its first ref()."""

    name: str
    path: Path
    sql: str
    model: str
    severity: str
    description: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    # config(meta={'per_row': True}): each returned row is about one row of the model alone, so
    # the test may run on the changed trackings' rows only (data_tests.py says when)
    per_row: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    layer: str
    sql: str
    materialized: str
    refs: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    description: str = ""
    columns: tuple[ColumnDoc, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    # incremental models only: the columns whose values identify the rows an incremental run replaces
    unique_key: tuple[str, ...] = ()
    # config(tags=[...]), as dbt reads them; `full_history` marks an aggregate over every shipment
    # ever loaded, which a run may keep instead of rebuilding (runner.py, FULL_HISTORY_TAG)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectPaths:
    """The folders dbt_project.yml names, relative to the project folder, as dbt reads them."""

    model_paths: tuple[str, ...]
    test_paths: tuple[str, ...]
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Project:
    models: dict[str, Model]
    generic_tests: tuple[GenericTest, ...]
    singular_tests: tuple[SingularTest, ...]
    sources: dict[str, tuple[str, ...]]


def parse_config(sql: str, where: str = "<sql>") -> dict[str, Any]:
    """The keyword arguments of the file's `{{ config(...) }}` block, or {} when it has none.

    Arguments are read as Python literals (as Jinja would), never evaluated as code.
    """
    blocks = CONFIG_PATTERN.findall(sql)
    if not blocks:
        return {}
    if len(blocks) > 1:
        raise ProjectError(f"{where}: more than one config() block")
    try:
        call = ast.parse(f"config({blocks[0]})", mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ProjectError(f"{where}: config() takes keyword arguments only")
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError) as error:
        raise ProjectError(f"{where}: cannot read config({blocks[0].strip()}): {error}") from error


def find_refs(sql: str) -> tuple[str, ...]:
    """Models named in ref() calls, in order of first appearance, without repeats."""
    return tuple(dict.fromkeys(match["name"] for match in REF_PATTERN.finditer(sql)))


def find_sources(sql: str) -> tuple[tuple[str, str], ...]:
    return tuple(dict.fromkeys((m["source"], m["table"]) for m in SOURCE_PATTERN.finditer(sql)))


def _unique_key(config: dict[str, Any], where: str) -> tuple[str, ...]:
    """unique_key and incremental_strategy of an incremental model, checked.

    Both are required: without a unique_key, delete+insert degrades to an append that duplicates
    every re-loaded tracking, and naming the strategy keeps dbt-duckdb from picking another one."""
    key = config.get("unique_key")
    if isinstance(key, str) and key:
        columns: tuple[str, ...] = (key,)
    elif isinstance(key, (list, tuple)) and key and all(isinstance(part, str) and part for part in key):
        columns = tuple(key)
    else:
        raise ProjectError(
            f"{where}: materialized='incremental' needs unique_key='<column>' (or a list of columns): "
            "the rows an incremental run replaces are found by it"
        )
    strategy = config.get("incremental_strategy")
    if strategy not in INCREMENTAL_STRATEGIES:
        raise ProjectError(
            f"{where}: materialized='incremental' needs incremental_strategy='delete+insert' (the one strategy "
            f"the runner implements, as dbt-duckdb does), got {strategy!r}"
        )
    return columns


def _path_list(settings: dict[str, Any], key: str, default: tuple[str, ...], where: Path) -> tuple[str, ...]:
    value = settings.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(part, str) and part for part in value):
        raise ProjectError(f"{where}: {key} must be a list of folder names, got {value!r}")
    return tuple(value)


def read_project_paths(sql_dir: Path) -> ProjectPaths:
    """model-paths and test-paths from dbt_project.yml; each named folder must exist."""
    project_file = Path(sql_dir) / PROJECT_FILE
    if not project_file.is_file():
        raise ProjectError(
            f"{project_file} is missing: create it with `model-paths: [...]` naming the model folders, "
            "as dbt requires"
        )
    try:
        settings = yaml.safe_load(project_file.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProjectError(f"{project_file}: not valid YAML: {error}") from error
    if not isinstance(settings, dict):
        raise ProjectError(f"{project_file}: expected a mapping of settings such as model-paths")
    model_paths = _path_list(settings, "model-paths", DEFAULT_MODEL_PATHS, project_file)
    test_paths = _path_list(settings, "test-paths", DEFAULT_TEST_PATHS, project_file)
    for folder in model_paths:
        if not (Path(sql_dir) / folder).is_dir():
            raise ProjectError(f"{project_file}: model-paths names {folder!r}, which is not a folder in {sql_dir}")
    variables = settings.get("vars") or {}
    if not isinstance(variables, dict):
        raise ProjectError(f"{project_file}: vars must be a mapping of name: value, got {variables!r}")
    return ProjectPaths(model_paths, test_paths, dict(variables))


def _files_under(sql_dir: Path, folders: tuple[str, ...], *patterns: str) -> list[Path]:
    """Files matching any pattern under the named folders (missing folders hold none), sorted."""
    found = {
        path
        for folder in folders
        if (sql_dir / folder).is_dir()
        for pattern in patterns
        for path in (sql_dir / folder).rglob(pattern)
    }
    return sorted(found)


def _read_schema_files(
    sql_dir: Path, paths: ProjectPaths
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    """Model entries and declared source tables from every property .yml in the model folders."""
    model_entries: dict[str, dict[str, Any]] = {}
    sources: dict[str, tuple[str, ...]] = {}
    for yml_path in _files_under(sql_dir, paths.model_paths, "*.yml", "*.yaml"):
        document = yaml.safe_load(yml_path.read_text()) or {}
        for entry in document.get("models") or []:
            if entry["name"] in model_entries:
                raise ProjectError(f"{yml_path}: model {entry['name']!r} is described twice")
            model_entries[entry["name"]] = {**entry, "_path": yml_path}
        for source in document.get("sources") or []:
            tables = tuple(table["name"] for table in source.get("tables") or [])
            sources[source["name"]] = sources.get(source["name"], ()) + tables
    return model_entries, sources


def _tags(config: dict[str, Any], where: str) -> tuple[str, ...]:
    """config tags, as dbt accepts them: one string or a list of strings."""
    tags = config.get("tags") or ()
    if isinstance(tags, str):
        tags = (tags,)
    if not isinstance(tags, (list, tuple)) or not all(isinstance(tag, str) and tag for tag in tags):
        raise ProjectError(f"{where}: tags must be a string or a list of strings, got {tags!r}")
    return tuple(tags)


def _test_severity(config: dict[str, Any], where: str) -> str:
    severity = str(config.get("severity", "error")).lower()
    if severity not in SEVERITIES:
        raise ProjectError(f"{where}: severity must be one of {SEVERITIES}, got {severity!r}")
    return severity


def _generic_tests(model: str, column: str | None, declarations: list[Any], where: str) -> list[GenericTest]:
    """dbt's spellings: `- not_null`, or `- accepted_values: {arguments: {values: [...]}, config: {...}}`
    (dbt >= 1.10; this folder's form) or the older arguments beside `config:`, which dbt deprecates.

    `column` is None for a test declared on the model itself: then, as in dbt, `column_name` says
    what it tests, a column or an expression (a grain test: `unique` over "(a, b)")."""
    tests = []
    for declaration in declarations:
        if isinstance(declaration, str):
            kind, body = declaration, {}
        else:
            ((kind, body),) = declaration.items()
            body = dict(body or {})
        if kind not in GENERIC_TESTS:
            raise ProjectError(
                f"{where}: unknown test {kind!r} on {model}.{column}; use one of {GENERIC_TESTS}"
            )
        config = body.pop("config", {}) or {}
        nested_arguments = body.pop("arguments", {}) or {}
        if not isinstance(nested_arguments, dict):
            raise ProjectError(f"{where}: {kind} on {model}.{column}: `arguments:` must be a mapping of names")
        arguments = {**nested_arguments, **body}
        tested = column if column is not None else arguments.pop("column_name", None)
        if not isinstance(tested, str) or not tested.strip():
            raise ProjectError(
                f"{where}: {kind} declared on model {model} needs `column_name:` (a column or an expression)"
            )
        severity = _test_severity(config, f"{where} {model}.{tested} {kind}")
        tags = _tags(config, f"{where} {model}.{tested} {kind}")
        tests.append(GenericTest(kind, model, tested, severity, arguments, tags))
    return tests


def _load_model(path: Path, sql_dir: Path, entry: dict[str, Any], variables: dict[str, Any]) -> Model:
    sql = path.read_text()
    config = parse_config(sql, str(path))
    materialized = config.get("materialized", "view")
    if materialized not in MATERIALIZATIONS:
        raise ProjectError(f"{path}: materialized must be one of {MATERIALIZATIONS}, got {materialized!r}")
    unique_key = _unique_key(config, str(path)) if materialized == "incremental" else ()
    if materialized != "incremental" and INCREMENTAL_BLOCK_PATTERN.search(sql):
        raise ProjectError(
            f"{path}: {{% if is_incremental() %}} in a {materialized} model is never true; "
            "use materialized='incremental' or remove the block"
        )
    columns = tuple(
        ColumnDoc(column["name"], column.get("description", ""), column.get("data_type"))
        for column in entry.get("columns") or []
    )
    return Model(
        name=path.stem,
        path=path,
        layer=path.parent.relative_to(sql_dir).as_posix(),
        sql=sql,
        materialized=materialized,
        refs=find_refs(sql),
        sources=find_sources(sql),
        description=entry.get("description", ""),
        columns=columns,
        variables=variables,
        unique_key=unique_key,
        tags=_tags(config, str(path)),
    )


def _load_singular_test(path: Path, variables: dict[str, Any]) -> SingularTest:
    sql = path.read_text()
    refs = find_refs(sql)
    if not refs:
        raise ProjectError(f"{path}: a singular test must ref() the model it tests")
    config = parse_config(sql, str(path))
    description = sql.lstrip().splitlines()[0].lstrip("-").strip() if sql.lstrip().startswith("--") else ""
    meta = config.get("meta") or {}
    if not isinstance(meta, dict):
        raise ProjectError(f"{path}: config(meta=...) must be a mapping, got {meta!r}")
    return SingularTest(
        path.stem, path, sql, refs[0], _test_severity(config, str(path)), description, variables,
        per_row=bool(meta.get("per_row", False)), tags=_tags(config, str(path)),
    )


def load_project(sql_dir: Path) -> Project:
    """Every model and test in the folders dbt_project.yml names, with the docs from schema.yml."""
    sql_dir = Path(sql_dir)
    paths = read_project_paths(sql_dir)
    model_entries, sources = _read_schema_files(sql_dir, paths)
    models: dict[str, Model] = {}
    singular_tests = [
        _load_singular_test(path, paths.variables) for path in _files_under(sql_dir, paths.test_paths, "*.sql")
    ]
    for path in _files_under(sql_dir, paths.model_paths, "*.sql"):
        if path.stem in models:
            raise ProjectError(f"{path}: model name {path.stem!r} also used by {models[path.stem].path}")
        models[path.stem] = _load_model(
            path, sql_dir, model_entries.get(path.stem, {}), paths.variables
        )

    undocumented = sorted(set(model_entries) - set(models))
    if undocumented:
        raise ProjectError(f"schema.yml describes models without a .sql file: {undocumented}")
    generic_tests: list[GenericTest] = []
    for name, entry in model_entries.items():
        model_level = entry.get("data_tests", entry.get("tests")) or []
        generic_tests += _generic_tests(name, None, model_level, str(entry["_path"]))
        for column in entry.get("columns") or []:
            declarations = column.get("data_tests", column.get("tests")) or []
            generic_tests += _generic_tests(name, column["name"], declarations, str(entry["_path"]))
    for test in singular_tests:
        if test.model not in models:
            raise ProjectError(f"{test.path}: refs unknown model {test.model!r}")
    return Project(models, tuple(generic_tests), tuple(singular_tests), sources)
