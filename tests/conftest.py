"""Test configuration: isolate every path, forbid the network, register opt-in markers.

All outputs of a test session (results, figures, build, weights cache, data) go to one
temporary folder, so tests never touch the repository's build products or a user's caches.
"""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="na-tests-"))
for _var, _sub in [("NA_RESULTS_DIR", "results"), ("NA_FIGURES_DIR", "figures"), ("NA_BUILD_DIR", "build"),
                   ("NA_CACHE_DIR", "cache"), ("NA_DATA_DIR", "data")]:
    os.environ[_var] = str(_SESSION_DIR / _sub)
for _var in [k for k in os.environ if k.startswith("NA_WEIGHTS_")]:
    del os.environ[_var]
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core (pytest-xdist): one BLAS/OpenMP/torch thread each, inherited by the
    # notebook kernels they start, and no spin-waiting, or the workers' thread pools fight over the cores (a
    # measured 31 min of CPU for 18 min of work on 2 cores). Set before anything imports torch.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    import torch

    # longest first, so the workers of `make test` finish together: the smoke chain (one session fixture,
    # minutes), then the rehearsal tier, then the rest in file order (a stable sort keeps the order in a file)
    tier = {"notebooks": 0, "slurm": 0, "rehearsal": 1}
    items.sort(key=lambda it: min([tier[m.name] for m in it.iter_markers() if m.name in tier], default=2))
    skip_slow = pytest.mark.skip(reason="slow: opt in with --runslow")
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")):
        return _real_connect(self, address)
    if self.family == getattr(socket, "AF_UNIX", None):
        return _real_connect(self, address)
    raise OSError(f"tests must not touch the network (attempted connection to {address!r})")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    """The temporary folder that holds every output of this test session."""
    return _SESSION_DIR


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread: on a busy shared CPU it is far faster for small tensors (restored after)."""
    from helpers.synthesis import threads

    with threads.torch_threads(1):
        yield


@pytest.fixture(scope="module")
def inception_stand_in():
    """The seeded 144-layer InceptionV1 stand-in, loaded as users load it."""
    from helpers.nets import models

    return models.load("inception5h", source="random", seed=0)


@pytest.fixture
def empty_dir(tmp_path) -> Path:
    """An existing, empty folder."""
    d = tmp_path / "empty"
    d.mkdir()
    return d
