"""List endpoints by API version, and how the version is chosen from configuration.

`endpoint_for` is the one place that maps a version name to its ListEndpoint; everything
downstream of the fetcher is version-blind.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tm_pipeline.api.endpoints.base import CheckpointFields, ItemFields, ListEndpoint
from tm_pipeline.api.endpoints.v2 import V2_LIST
from tm_pipeline.api.errors import ConfigurationError

__all__ = ["LIST_ENDPOINTS", "CheckpointFields", "ItemFields", "ListEndpoint", "endpoint_for", "version_of"]

LIST_ENDPOINTS: dict[str, ListEndpoint] = {endpoint.version: endpoint for endpoint in (V2_LIST,)}
DEFAULT_VERSION = "v2"


def version_of(base_url: str, configured: str = "") -> str:
    """The API version to speak: `configured` when set, else the base URL's last path segment
    when it names a known version (`.../v4`), else v2."""
    if configured:
        version = configured.strip().lower()
        if version not in LIST_ENDPOINTS:
            raise ConfigurationError(
                f"TRACKINGMORE_API_VERSION must be one of {', '.join(sorted(LIST_ENDPOINTS))}, got {configured!r}."
            )
        return version
    last_segment = urlsplit(base_url).path.rstrip("/").rsplit("/", 1)[-1].lower()
    return last_segment if last_segment in LIST_ENDPOINTS else DEFAULT_VERSION


def endpoint_for(version: str) -> ListEndpoint:
    """The list endpoint of a version named by `version_of`."""
    return LIST_ENDPOINTS[version_of("", version)]
