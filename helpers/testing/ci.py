"""A test whose outside tool (Chromium, R's lme4, ...) is missing: skipped with the reason, except under ``CI=true``.

``.ci/run`` installs every such tool, so there a missing one is a broken install and fails the test instead of
hiding it among the skips (CONTRIBUTING.md's table of test tiers says which markers this applies to).
"""
from __future__ import annotations

import os

import pytest


def require(why: str | None) -> None:
    """Nothing when ``why`` is None (the tool is there); else skip the test with ``why``, or fail it under ``CI=true``.

    Used in: no notebook; ``tests/test_browser.py``, ``tests/test_study_browser.py``, ``tests/test_online.py``,
        ``tests/test_mixed_lme4.py``, ``tests/test_explore_lab.py``, ``tests/test_slurm_cluster.py``.
    """
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {why}", pytrace=False)
    pytest.skip(why)
