"""CPU threads of torch while dreaming: a fixed number, or as many as other processes leave free.

``threads="auto"`` (:class:`AdaptiveThreads`) re-measures the free cores (:func:`free_cores`, from
``/proc/stat``) before every render: on a CPU shared with a busy job, one thread instead of two that wait
for each other at every OpenMP barrier. :func:`torch_threads` runs a block with a given count.
"""
from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import torch

def _cpu_times():
    """(seconds of non-idle CPU time of the whole machine, of this process, of the allowed cores), or None."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = sum(vals[:8]) - vals[3] - (vals[4] if len(vals) > 4 else 0)  # all but idle and iowait
    t = os.times()
    return busy / hz, t.user + t.system, time.monotonic()


def free_cores(since=None, *, interval: float = 0.2) -> float:
    """Cores not used by other processes, measured from ``/proc/stat`` minus this process's own CPU time.

    Args:
        since: a :func:`_cpu_times` sample to measure from (e.g. taken before the last render); ``None``
            samples over ``interval`` seconds now.

    Returns:
        free cores of the machine, between 0 and ``os.cpu_count()`` (the cpu count where
        ``/proc/stat`` is unavailable, e.g. macOS/Windows).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    n = os.cpu_count() or 1
    a = since or _cpu_times()
    if a is None:
        return float(n)
    if since is None:
        time.sleep(interval)
    b = _cpu_times()
    wall = b[2] - a[2]
    if wall <= 0:
        return float(n)
    others = max(0.0, (b[0] - a[0]) - (b[1] - a[1])) / wall
    return float(min(n, max(0.0, n - others)))


class AdaptiveThreads:
    """``threads="auto"``: before each render, torch gets as many threads as there are free cores
    (at least 1, at most the cores this process may use), measured over the previous render by
    :func:`free_cores`. A CPU shared with a busy job then runs on 1 thread instead of fighting for
    the busy core (OpenMP threads wait at every barrier for the slowest one).

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """

    def __init__(self):
        try:
            self.max = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            self.max = os.cpu_count() or 1
        self.sample = _cpu_times()
        self.history: list[int] = []

    #: shortest window (s) free cores are measured over; /proc/stat counts in 10 ms ticks, so a
    #: sample taken just before (the first render of a call) would see no other process at all
    min_window = 0.2

    def update(self) -> int:
        if self.sample is None:  # no /proc/stat
            free = self.max
        elif time.monotonic() - self.sample[2] < self.min_window:
            free = free_cores(interval=self.min_window)
        else:
            free = free_cores(self.sample)
        # our own threads' share is excluded; round half up so a lightly loaded core still counts
        n = int(min(self.max, max(1, int(free + 0.5))))
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        self.sample = _cpu_times()
        self.history.append(n)
        return n


@contextlib.contextmanager
def torch_threads(n):
    """Run a block with ``n`` torch CPU threads (``None`` or ``"auto"``: unchanged here; ``"auto"`` is
    applied per render by :func:`dream`), restoring the old count.

    Used in: notebook 01 (p1-dream-octaves.png) through :func:`helpers.synthesis.dream.progress_snapshots`.
    """
    if n is not None and n != "auto" and (not isinstance(n, (int, np.integer)) or int(n) < 1):
        raise ValueError(f"threads must be None, 'auto' or a positive integer, got {n!r}")
    old = torch.get_num_threads()
    if n and n != "auto":
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
