"""The SQL pieces that unnest checkpoints from either API version's JSON, generated from the
per-version keys in api/endpoints (data, not SQL per version).

Each raw.checkpoints column reads the first key present in the order of `LIST_ENDPOINTS` (v2's
`Date`, then v4's `checkpoint_date`, ...): an item has one version's keys, so at most one is set.
v2 names a milestone on the checkpoint (`ItemNode`); v4 dates milestones on the leg instead, so a
checkpoint without a node whose date equals a milestone's date gets that milestone's node.
"""

from __future__ import annotations

from tm_pipeline.api.endpoints import LIST_ENDPOINTS

_COLUMNS = ("checkpoint_date", "checkpoint_status", "substatus", "status_description", "details", "item_node")

CHECKPOINT_KEYS: dict[str, list[str]] = {column: [] for column in _COLUMNS}
MILESTONE_PATHS: dict[str, tuple[str, ...]] = {}  # item_node value -> JSON path under the leg
for _endpoint in LIST_ENDPOINTS.values():
    for _column in _COLUMNS:
        _key = getattr(_endpoint.checkpoint_fields, _column)
        if _key is not None and _key not in CHECKPOINT_KEYS[_column]:
            CHECKPOINT_KEYS[_column].append(_key)
    for _node, _path in _endpoint.checkpoint_fields.milestone_dates:
        MILESTONE_PATHS.setdefault(_node, _path)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _leg_type() -> str:
    """json_transform's type of one leg: its trackinfo and the milestone dates it may carry."""
    checkpoint = "{" + ",".join(f'"{key}":"VARCHAR"' for keys in CHECKPOINT_KEYS.values() for key in keys) + "}"
    leg: dict[str, object] = {"trackinfo": f"[{checkpoint}]"}
    for path in MILESTONE_PATHS.values():
        node = leg
        for part in path[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]  # nested dicts by construction
        node[path[-1]] = '"VARCHAR"'
    return _struct_text(leg)


def _struct_text(fields: dict[str, object]) -> str:
    members = (
        f'"{name}":' + (_struct_text(value) if isinstance(value, dict) else str(value))
        for name, value in fields.items()
    )
    return "{" + ",".join(members) + "}"


LEGS_TYPE = f'{{"origin_info":{_leg_type()},"destination_info":{_leg_type()}}}'


def leg_columns(leg: str) -> str:
    """The select list of one leg (`legs.<leg>`): trackinfo, then one column per milestone date."""
    columns = [f"legs.{leg}.trackinfo AS trackinfo"]
    for node, path in MILESTONE_PATHS.items():
        value = f"legs.{leg}." + ".".join(_quoted(part) for part in path)
        columns.append(f"{value} AS {_quoted('milestone_' + node)}")
    return ", ".join(columns)


MILESTONE_COLUMNS = "".join(f", {_quoted('milestone_' + node)}" for node in MILESTONE_PATHS)


def _first_of(column: str) -> str:
    keys = CHECKPOINT_KEYS[column]
    if not keys:
        return "NULL::VARCHAR"
    return "coalesce(" + ", ".join(f"checkpoint.{_quoted(key)}" for key in keys) + ")"


def checkpoint_columns() -> str:
    """The select list of raw.checkpoints' value columns, over `checkpoint` and the milestone columns."""
    columns = [f"{_first_of(column)} AS {column}" for column in _COLUMNS if column != "item_node"]
    date = _first_of("checkpoint_date")
    by_date = " ".join(
        f"WHEN {date} = {_quoted('milestone_' + node)} THEN '{node}'" for node in MILESTONE_PATHS
    )
    node = _first_of("item_node")
    columns.append(f"coalesce({node}, CASE {by_date} END) AS item_node" if by_date else f"{node} AS item_node")
    return ",\n       ".join(columns)
