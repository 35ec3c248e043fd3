"""A worker process's own peak resident memory.

`getrusage(RUSAGE_SELF).ru_maxrss` is not it on Linux: the high-water mark is kept across fork and
exec, so a worker started by a benchmark process that had grown to 1.4 GB reports at least 1.4 GB
whatever it used itself. `VmHWM` in /proc/self/status belongs to the process's own address space,
which exec replaces: the worker's own peak.
"""

from __future__ import annotations

import resource
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_rss_mb() -> float:
    """This process's peak RSS in MB since it exec'd (ru_maxrss where /proc is missing)."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux and BSD report KiB
