"""How much memory a process took at its peak: recorded per source and stage in the events.

Linux keeps each process's peak resident memory (``VmHWM`` in ``/proc/<pid>/status``) and lets
a process reset it (writing ``5`` to ``/proc/self/clear_refs``), so a child that parses one file
after another reports the peak of each parse, not of its whole life. Where ``/proc`` is not
there, the peak comes from ``getrusage`` (the whole life of the process).

    >>> peak_mb() > 0
    True
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_mb() -> float:
    """This process's peak resident memory in MB: since the last :func:`reset_peak` where the
    system allows it, else since the process started."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS


def reset_peak() -> bool:
    """Start this process's peak memory anew from its current size; False where the system
    does not allow it (then :func:`peak_mb` keeps the peak since the process started)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
