"""One line that says which machine a benchmark ran on, printed with every benchmark's results.

Used in: no notebook; by ``benchmarks/dream.py``, ``benchmarks/precision.py``, ``benchmarks/artsearch.py`` and
``benchmarks/mixed.py``.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

# the CPU flags that decide whether bf16 has native matrix units (helpers.synthesis.dream.bf16_supported)
MATRIX_FLAGS = ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def describe() -> str:
    """CPU model, logical CPUs, the bf16/AMX flags, the 1-minute load average now, and the Python version.

    Used in: no notebook; by every benchmark script's printed header (see the module docstring).
    """
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    model = model or platform.processor() or "unknown CPU"
    units = ", ".join(f for f in MATRIX_FLAGS if f in flags) or "none of " + "/".join(MATRIX_FLAGS)
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
    return (f"{model}; {os.cpu_count()} CPUs; {units}; AMX {'yes' if 'amx_tile' in flags else 'no'}; "
            f"load average {load}; Python {platform.python_version()}")
