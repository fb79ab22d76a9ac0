"""What the benchmarks' processes share: JSON lines, file limits, CPU, percentiles."""

from __future__ import annotations

import json
import math
import os
import resource
import sys
from typing import Any


def emit(obj: dict[str, Any]) -> None:
    """One JSON line on stdout: how a child process answers the orchestrator."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far (/proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of unsorted values (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def run_queue_waits(pids: list[int]) -> dict[tuple[int, int], float]:
    """Seconds each live thread of `pids` has waited runnable for a core so
    far (the kernel's schedstat), by (pid, thread id): a process waiting
    there is invisible to any clock inside it."""
    found = {}
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # ended meanwhile
        for thread in threads:
            try:
                with open(f"/proc/{pid}/task/{thread}/schedstat") as f:
                    waited_ns = int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            found[(pid, int(thread))] = waited_ns / 1e9
    return found


def waited_between(
    before: dict[tuple[int, int], float], after: dict[tuple[int, int], float]
) -> float:
    """Seconds waited for a core between two `run_queue_waits`, by the
    threads alive at both."""
    return sum(after[key] - before[key] for key in before.keys() & after.keys())
