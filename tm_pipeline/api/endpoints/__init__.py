"""List endpoints by API version, and how the version is chosen from configuration.

`endpoint_for` is the one place that maps a version name to its ListEndpoint; everything
downstream of the fetcher is version-blind.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tm_pipeline.api.endpoints.base import CheckpointFields, ItemFields, ListEndpoint
from tm_pipeline.api.endpoints.v2 import V2_LIST
from tm_pipeline.api.endpoints.v4 import V4_LIST
from tm_pipeline.api.errors import ConfigurationError

__all__ = ["LIST_ENDPOINTS", "CheckpointFields", "ItemFields", "ListEndpoint", "endpoint_for", "version_of"]

LIST_ENDPOINTS: dict[str, ListEndpoint] = {endpoint.version: endpoint for endpoint in (V2_LIST, V4_LIST)}
DEFAULT_VERSION = "v2"


def version_of(base_url: str, configured: str = "") -> str:
    """The API version to speak: `configured` when set, else the base URL's last path segment
    when it names a known version (`.../v4`), else v2. A configured version that contradicts the
    URL's is an error: the requests would go to the other version's paths with the wrong header."""
    last_segment = urlsplit(base_url).path.rstrip("/").rsplit("/", 1)[-1].lower()
    from_url = last_segment if last_segment in LIST_ENDPOINTS else None
    if not configured:
        return from_url or DEFAULT_VERSION
    version = configured.strip().lower()
    if version not in LIST_ENDPOINTS:
        raise ConfigurationError(
            f"TRACKINGMORE_API_VERSION must be one of {', '.join(sorted(LIST_ENDPOINTS))}, got {configured!r}."
        )
    if from_url is not None and from_url != version:
        raise ConfigurationError(
            f"TRACKINGMORE_API_VERSION is {version} but TRACKINGMORE_BASE_URL ends in /{from_url}: "
            f"set the base URL to the /{version} address (e.g. https://api.trackingmore.com/{version}) "
            "or unset TRACKINGMORE_API_VERSION to follow the URL."
        )
    return version


def endpoint_for(version: str) -> ListEndpoint:
    """The list endpoint of a version named by `version_of`."""
    return LIST_ENDPOINTS[version_of("", version)]
