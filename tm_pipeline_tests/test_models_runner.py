"""The SQL models built by the runner on hand-built raw tables, against hand-computed metrics.

Fixture shipments (checkpoint times courier-local, both formats):
  A  ems  'Delivered'    China -> United States  scans 03-01 10:00:00 .. delivered 03-04 22:00  => 3.5 days
  B  ems  'delivered '   China -> ''             scans 03-02 00:00:00, exception 03-03, delivered 03-04 12:00
                                                 and again 03-05                               => 2.5 days
  C  ems  'Exception'    China -> NULL           one 'DELIVERED' scan 03-04 08:00 (not delivered now: no days)
  D  ups  'pending'      Germany -> ''           no checkpoints
  E  ups  'transit'      Germany -> France       one 'Exception' scan 02-26 00:00
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.models_rebuild import rebuild_seconds
from tm_pipeline.models.data_tests import compile_tests, run_test
from tm_pipeline.models.project import ProjectError, load_project
from tm_pipeline.models.runner import build_all
from tm_pipeline_tests.raw_rows import checkpoint_row, create_raw_tables, insert_rows, tracking_row

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"


def seed_shipments(connection: duckdb.DuckDBPyConnection) -> None:
    create_raw_tables(connection)
    insert_rows(
        connection,
        "trackings",
        [
            tracking_row("A", carrier_code="ems", status="Delivered"),
            tracking_row("B", carrier_code="ems", status="delivered ", destination_country=""),
            tracking_row("C", carrier_code="ems", status="Exception", destination_country=None),
            tracking_row(
                "D", carrier_code="ups", status="pending", original_country="Germany", destination_country=""
            ),
            tracking_row(
                "E",
                carrier_code="ups",
                status="transit",
                original_country="Germany",
                destination_country="France",
            ),
        ],
    )
    insert_rows(
        connection,
        "checkpoints",
        [
            checkpoint_row("A", "2024-03-04 22:00", "Delivered", leg="destination", position=0),
            checkpoint_row("A", "2024-03-01 10:00:00", "transit", leg="origin", position=0),
            checkpoint_row("B", "2024-03-05 00:00", "delivered", position=0),
            checkpoint_row("B", "2024-03-04 12:00:00", "delivered", position=1),
            checkpoint_row("B", "2024-03-03 00:00", "exception", position=2),
            checkpoint_row("B", "2024-03-02 00:00:00", "Transit", position=3),
            checkpoint_row("C", "2024-03-04 08:00", "DELIVERED"),
            checkpoint_row("E", "2024-02-26 00:00", "Exception"),
        ],
    )


@pytest.fixture()
def warehouse(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    seed_shipments(connection)
    build_all(connection, load_project(SQL_DIR))
    yield connection
    connection.close()


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


def test_fct_shipments_milestones_and_delivery_days(warehouse):
    got = rows(
        warehouse,
        """
        select tracking_id, status, destination_country, first_scan_at, delivered_at, delivery_days,
               is_exception, ever_exception, is_scanned, week_start
        from main.fct_shipments order by tracking_id""",
    )
    assert got == [
        (
            "A",
            "delivered",
            "United States",
            datetime(2024, 3, 1, 10),
            datetime(2024, 3, 4, 22),
            3.5,
            False,
            False,
            True,
            date(2024, 2, 26),
        ),
        (
            "B",
            "delivered",
            None,
            datetime(2024, 3, 2),
            datetime(2024, 3, 4, 12),
            2.5,
            False,
            True,
            True,
            date(2024, 2, 26),
        ),
        (
            "C",
            "exception",
            None,
            datetime(2024, 3, 4, 8),
            datetime(2024, 3, 4, 8),
            None,
            True,
            False,
            True,
            date(2024, 3, 4),
        ),
        ("D", "pending", None, None, None, None, False, False, False, None),
        ("E", "transit", "France", datetime(2024, 2, 26), None, None, False, True, True, date(2024, 2, 26)),
    ]


def test_checkpoint_times_are_wall_clock_without_zone(warehouse):
    (column_type,) = rows(
        warehouse,
        "select data_type from information_schema.columns where "
        "table_name = 'stg_checkpoints' and column_name = 'checkpoint_at'",
    )[0]
    assert column_type == "TIMESTAMP"


def test_delivery_time_by_carrier_hand_computed(warehouse):
    got = rows(warehouse, "select * exclude (account) from main.delivery_time_by_carrier order by carrier_code")
    assert got[1] == ("ups", 2, 0, None, None, None, None)
    carrier, shipments, delivered, mean, p50, p90, p95 = got[0]
    assert (carrier, shipments, delivered) == ("ems", 3, 2)
    assert [mean, p50, p90, p95] == pytest.approx([3.0, 3.0, 3.4, 3.45])


def test_delivery_time_by_lane_groups_missing_destination_as_null(warehouse):
    got = rows(
        warehouse,
        """
        select original_country, destination_country, shipments, delivered, mean_delivery_days
        from main.delivery_time_by_lane order by all""",
    )
    assert got == [
        ("China", "United States", 1, 1, 3.5),
        ("China", None, 2, 1, 2.5),
        ("Germany", "France", 1, 0, None),
        ("Germany", None, 1, 0, None),
    ]


def test_delivery_time_by_week_only_counts_scanned_shipments(warehouse):
    got = rows(
        warehouse,
        "select week_start, shipments, delivered, mean_delivery_days "
        "from main.delivery_time_by_week order by week_start",
    )
    assert got == [(date(2024, 2, 26), 3, 2, 3.0), (date(2024, 3, 4), 1, 0, None)]


def test_exception_rate_by_carrier(warehouse):
    got = rows(warehouse, "select * exclude (account) from main.exception_rate_by_carrier order by carrier_code")
    assert got[0][:3] == ("ems", 3, 1) and got[0][4] == 1
    assert math.isclose(got[0][3], 1 / 3) and math.isclose(got[0][5], 1 / 3)
    assert got[1] == ("ups", 1, 0, 0.0, 1, 1.0)


def test_exception_rate_by_destination(warehouse):
    got = rows(
        warehouse, "select * exclude (account) from main.exception_rate_by_destination order by destination_country"
    )
    assert got == [
        ("France", 1, 0, 0.0, 1, 1.0),
        ("United States", 1, 0, 0.0, 0, 0.0),
        (None, 2, 1, 0.5, 1, 0.5),
    ]


def test_exception_rate_by_week(warehouse):
    got = rows(warehouse, "select * exclude (account) from main.exception_rate_by_week order by week_start")
    assert got[0][:5] == (date(2024, 2, 26), 3, 0, 0.0, 2) and math.isclose(got[0][5], 2 / 3)
    assert got[1] == (date(2024, 3, 4), 1, 1, 1.0, 0, 0.0)


def test_schema_yml_columns_match_the_built_columns(warehouse):
    for model in load_project(SQL_DIR).models.values():
        built = [row[0] for row in rows(warehouse, f"describe main.{model.name}")]
        assert [column.name for column in model.columns] == built, model.name


def test_materializations_follow_the_config_blocks(warehouse):
    kinds = dict(
        rows(
            warehouse,
            "select table_name, table_type from information_schema.tables where table_schema = 'main'",
        )
    )
    assert kinds["stg_trackings"] == "VIEW"
    assert kinds["fct_shipments"] == "BASE TABLE"
    assert kinds["delivery_time_by_carrier"] == "BASE TABLE"


def test_a_rebuild_follows_raw_changed_new_and_removed_trackings(warehouse):
    """fct_shipments is a table rebuilt whole: a tracking gone from raw (an accepted loss, a
    replaced extraction) leaves it at once, which the removed incremental mode did not do."""
    warehouse.execute("update raw.trackings set status = 'exception' where tracking_id = 'A'")
    warehouse.execute("delete from raw.trackings where tracking_id = 'D'")
    insert_rows(warehouse, "trackings", [tracking_row("F", status="transit")])
    build_all(warehouse, load_project(SQL_DIR))
    got = rows(warehouse, "select tracking_id, status, delivery_days from main.fct_shipments order by 1")
    assert [row[0] for row in got] == ["A", "B", "C", "E", "F"]
    assert got[0] == ("A", "exception", None)


def test_build_results_carry_row_counts_and_types(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    seed_shipments(connection)
    results = {result.model: result for result in build_all(connection, load_project(SQL_DIR))}
    assert results["fct_shipments"].row_count == 5
    assert ("delivery_days", "DOUBLE") in results["fct_shipments"].columns
    connection.close()


def failing_tests(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    outcomes = {test.name: run_test(connection, test) for test in compile_tests(load_project(SQL_DIR))}
    return {name: outcome.failures for name, outcome in outcomes.items() if not outcome.passed}


def test_clean_fixture_passes_every_data_test(warehouse):
    assert failing_tests(warehouse) == {}


def test_negative_delivery_days_fail_the_singular_test(warehouse):
    # first_scan_at is a minimum over all checkpoints, so no input makes delivery_days negative;
    # the test guards the model's logic, so corrupt the built table to prove it bites.
    warehouse.execute("update main.fct_shipments set delivery_days = -1 where tracking_id = 'A'")
    (test,) = [
        t for t in compile_tests(load_project(SQL_DIR)) if t.name == "assert_delivery_days_not_negative"
    ]
    outcome = run_test(warehouse, test)
    assert (outcome.failures, outcome.samples[0]["tracking_id"], test.severity) == (1, "A", "error")


def test_checkpoint_of_unknown_tracking_fails_relationships(warehouse):
    insert_rows(warehouse, "checkpoints", [checkpoint_row("GHOST", "2024-03-01 00:00", "transit")])
    assert failing_tests(warehouse) == {"relationships_stg_checkpoints_tracking_id": 1}


def test_unparseable_checkpoint_date_only_warns(warehouse):
    insert_rows(warehouse, "checkpoints", [checkpoint_row("D", "01/03/2024", "transit")])
    assert failing_tests(warehouse) == {"not_null_stg_checkpoints_checkpoint_at": 1}


def test_rebuild_seconds_builds_every_model_and_reports_time(tmp_path):
    database_path = tmp_path / "bench.duckdb"
    with duckdb.connect(str(database_path)) as connection:
        seed_shipments(connection)
    assert rebuild_seconds(database_path) > 0
    with duckdb.connect(str(database_path)) as connection:
        built = {
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
    assert built == set(load_project(SQL_DIR).models)


@pytest.mark.parametrize(
    ("config", "refusal"),
    [
        ("materialized='incremental', incremental_strategy='delete+insert'", r"needs unique_key="),
        ("materialized='incremental', unique_key='n'", r"needs incremental_strategy='delete\+insert'"),
        ("materialized='incremental', unique_key='n', incremental_strategy='merge'", r"got 'merge'"),
        ("materialized='table'", r"is_incremental\(\) %\} in a table model is never true"),
    ],
)
def test_an_incremental_model_without_what_delete_insert_needs_is_refused_with_the_file_named(
    tmp_path, config, refusal
):
    model_path = tmp_path / "sql" / "marts" / "numbers.sql"
    model_path.parent.mkdir(parents=True)
    (tmp_path / "sql" / "dbt_project.yml").write_text('model-paths: ["marts"]\n')
    model_path.write_text(f"{{{{ config({config}) }}}} select 1 as n {{% if is_incremental() %}} where 1 {{% endif %}}")
    with pytest.raises(ProjectError, match=r"numbers\.sql: .*" + refusal):
        load_project(tmp_path / "sql")


def test_an_incremental_model_whose_columns_changed_is_rebuilt_whole(tmp_path):
    """A new version of the SQL with another column list cannot take the old rows: rebuilt, not merged."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute("create schema raw")
    connection.execute(
        "create table raw.load_info as select 'incremental' as mode, timestamp '2024-01-01' as loaded_at"
    )
    model_path = tmp_path / "sql" / "marts" / "numbers.sql"
    model_path.parent.mkdir(parents=True)
    (tmp_path / "sql" / "dbt_project.yml").write_text('model-paths: ["marts"]\n')
    config = "{{ config(materialized='incremental', unique_key='n', incremental_strategy='delete+insert') }}"
    model_path.write_text(config + " select 1 as n {% if is_incremental() %} where false {% endif %}")
    assert not build_all(connection, load_project(tmp_path / "sql"))[0].merged  # first build: whole
    assert build_all(connection, load_project(tmp_path / "sql"))[0].merged  # same load again: merges
    model_path.write_text(config + " select 1 as n, 2 as m {% if is_incremental() %} where false {% endif %}")
    (result,) = build_all(connection, load_project(tmp_path / "sql"))
    assert not result.merged and result.row_count == 1 and [c[0] for c in result.columns] == ["n", "m"]
    connection.close()


def test_changing_a_view_to_a_table_replaces_the_view(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    model_path = tmp_path / "sql" / "marts" / "numbers.sql"
    model_path.parent.mkdir(parents=True)
    (tmp_path / "sql" / "dbt_project.yml").write_text('model-paths: ["marts"]\n')
    model_path.write_text("select 1 as n")
    build_all(connection, load_project(tmp_path / "sql"))
    model_path.write_text("{{ config(materialized='table') }} select 2 as n")
    build_all(connection, load_project(tmp_path / "sql"))
    kind = connection.execute("select table_type from information_schema.tables where table_name = 'numbers'")
    assert kind.fetchall() == [("BASE TABLE",)]
    connection.close()


def test_business_days_count_working_days_after_the_first_scan_date(warehouse):
    """A: Friday 03-01 -> Monday 03-04 crosses one working day; B: Saturday 03-02 -> Monday 03-04
    also one. Calendar days stay fractional. Neither is in the default holiday list."""
    assert rows(
        warehouse,
        "select tracking_id, transit_days, transit_business_days, delivery_attempt "
        "from main.fct_shipment_journeys where transit_days is not null order by 1",
    ) == [("A", 3.5, 1, "first_attempt"), ("B", 2.5, 1, "first_attempt")]


def test_a_v4_inforeceived_shipment_is_an_active_status_every_test_accepts(tmp_path):
    """v4's ninth status (the courier has the data, pickup pending) passes the ERROR-severity status
    tests and counts as active, stuck once silent: a v4 account must not stop every run on it."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_tables(connection)
    insert_rows(connection, "trackings", [
        tracking_row("I", carrier_code="ups", status="InfoReceived", updated_at=datetime(2024, 3, 20)),
        tracking_row("T", carrier_code="ups", status="transit", updated_at=datetime(2024, 3, 20)),
    ])
    insert_rows(connection, "checkpoints", [
        checkpoint_row("I", "2024-03-01 09:00", "InfoReceived"),
        checkpoint_row("T", "2024-03-19 09:00", "transit"),
    ])
    build_all(connection, load_project(SQL_DIR))
    failing = [test.name for test in compile_tests(load_project(SQL_DIR))
               if test.severity == "error" and run_test(connection, test).failures]
    assert failing == []
    assert connection.execute(
        "select status, is_active, is_stuck from main.fct_shipment_journeys where tracking_id = 'I'"
    ).fetchall() == [("inforeceived", True, True)]
    assert connection.execute("select tracking_id from main.stuck_shipments").fetchall() == [("I",)]
    connection.close()
