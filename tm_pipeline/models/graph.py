"""Build order of the models from their ref() edges."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from tm_pipeline.models.project import Model, ProjectError


def build_order(
    models: dict[str, Model], declared_sources: dict[str, tuple[str, ...]] | None = None
) -> list[str]:
    """Model names so that every model comes after the models it refs.

    Ties are broken by name so the order (and so the logs) is the same on every run. Unknown
    refs, undeclared sources (when declarations are given) and cycles raise ProjectError.
    """
    for model in models.values():
        unknown = [ref for ref in model.refs if ref not in models]
        if unknown:
            raise ProjectError(f"{model.path}: ref() to unknown model(s) {unknown}; known: {sorted(models)}")
        if declared_sources is not None:
            undeclared = [
                f"{source}.{table}"
                for source, table in model.sources
                if table not in declared_sources.get(source, ())
            ]
            if undeclared:
                raise ProjectError(f"{model.path}: source() not declared in any schema.yml: {undeclared}")

    sorter = TopologicalSorter({name: models[name].refs for name in sorted(models)})
    try:
        sorter.prepare()
    except CycleError as error:
        raise ProjectError(f"models ref each other in a cycle: {' -> '.join(error.args[1])}") from error
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order += ready
        sorter.done(*ready)
    return order
