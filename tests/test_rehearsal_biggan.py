"""Rehearsal tier for Paper 2's generator: notebooks 05 and 06 on BigGAN-deep-256 in its real on-disk format.

``helpers.testing.rehearsal.write_biggan_deep_256`` writes ``pytorch_model.bin`` + ``config.json`` as
pytorch_pretrained_biggan saves them (stand-in weights, package's own ``BigGAN256`` config).
``$NA_WEIGHTS_BIGGAN_DEEP_256`` points at the file and the notebooks run with ``PROFILE="paper"``
and ``PROFILE="class"``: the pretrained-weights code path (``models.load(..., source="pretrained")``,
the config beside the weights, strict loading), at reduced counts passed as papermill parameters.
A config that differs from the real file (as the hand-typed one this project once had) fails here.
"""
from __future__ import annotations

import json

import pytest

from helpers import io, paths, pipeline, registry

pytestmark = pytest.mark.rehearsal

# every paper-profile code path, at the fewest images that still exercise it
REDUCED = {
    "05": dict(FIG2_SEEDS=[0], FIG2_CLASSES=[832], S1_SEEDS=[0, 1], S1_CLASSES=[832], ALPHAS=[0.0, 0.35], SWEEP_CLASSES=[832],
               DISTANCE_SEEDS=[0, 1], DISTANCE_ALPHAS=[0.35], DISTANCE_ALPHA_SEEDS=[0, 1], ORIGINAL_NOISE_SEEDS=[5678],
               N_JOBS=1, BATCH_SIZE=2),
    "06": dict(FIG5_SEEDS=[0], FIG5_CLASSES=[832], S2_SEEDS=[0, 1], S2_CLASSES=[832], SWEEP_BLOCKS=["B2", "B9"],
               SWEEP_CLASSES=[832], S7_SEEDS=[0], S7_CLASSES=[832], BATCH_SIZE=2),
}
NOTEBOOKS = {"05": registry.NB05, "06": registry.NB06}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The rehearsal ``pytorch_model.bin`` (config.json beside it), in the package's folder layout.

    Not under the download URL's name: that name carries the real file's pinned sha256, which stand-in
    weights fail (``tests/test_models.py`` checks that they do).
    """
    from helpers.testing import rehearsal

    return rehearsal.write_biggan_deep_256(tmp_path_factory.mktemp("biggan-deep-256"), seed=0)


def _run(profile, number, weights_file):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NA_WEIGHTS_BIGGAN_DEEP_256", str(weights_file))  # the papermill kernel inherits it
        try:
            pipeline.run(profile, only=[number], parameters=REDUCED[number])
            error = None
        except SystemExit as exc:
            error = str(exc)
    return error


class _Runs(dict):
    """Each (profile, notebook) runs once, when a test first asks for it (so ``-k`` selects runs too)."""

    def __init__(self, weights):
        super().__init__()
        self.weights = weights

    def __missing__(self, key):
        self[key] = _run(*key, self.weights)
        return self[key]


@pytest.fixture(scope="module")
def runs(weights):
    return _Runs(weights)


@pytest.mark.parametrize("profile", ["paper", "class"])
@pytest.mark.parametrize("number", ["05", "06"])
def test_notebook_runs_on_the_real_format(runs, profile, number):
    assert runs[(profile, number)] is None, runs[(profile, number)]
    nb = NOTEBOOKS[number]
    for item in registry.for_notebook(nb):
        path = item.path(profile)
        assert path.exists() and path.stat().st_size > 0, f"{item.id}: {nb} ({profile}) did not write {path}"
    executed = json.loads((paths.build(profile) / nb).read_text())
    text = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "STAND-IN random weights (seed 0) in the real file format" in text  # outputs stay labelled
    assert "beside the weights" in text  # the config.json written beside the weights was used


def test_figure1_counts_the_papers_parameters(runs):
    assert runs[("paper", "05")] is None, runs[("paper", "05")]
    fig1 = io.load_table(paths.results("paper") / "p2-fig01-blocks.csv").set_index("block")
    assert fig1["n_parameters"].sum() == 55_880_833  # the paper's "55.9M"
    assert fig1.loc["B2", "n_parameters"] == 8_654_336  # "around 8.5 million"
    stats = io.load_table(paths.results("paper") / "p2-biggan-features.parquet")
    assert set(stats["network"]) == {"seed-0", "original"} and (stats["status"] == "ok").all()
