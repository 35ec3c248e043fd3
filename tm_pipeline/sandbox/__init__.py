"""Stand-in TrackingMore v2 API for demos, tests and benchmarks.

It imports nothing from the rest of tm_pipeline: its data and ground truth are an independent
witness of what the pipeline should compute. See docs/sandbox.md.
"""

from .config import SandboxConfig
from .faults import FaultConfig
from .ratelimit import key_fingerprint
from .server import SandboxServer

__all__ = ["FaultConfig", "SandboxConfig", "SandboxServer", "key_fingerprint"]
