"""Every table and figure of both papers that the notebooks reproduce, and where it lands.

``ITEMS`` is the single list: the pipeline prints it (``python -m helpers.pipeline list``),
docs/figures.md renders it, and the smoke test checks that every registered output exists after a
smoke run. ``output`` is relative to the profile's folder: ``figures/<profile>/`` for
``kind="figure"`` (PNG; a PDF is written beside it), ``results/<profile>/`` otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers import paths


@dataclass(frozen=True)
class Item:
    """One registered table or figure: its id, title, the notebook that makes it and its output file.

    Used in: notebook 00 (the list of items) and :mod:`helpers.pipeline` (``--only``, ``list``, the table in docs/figures.md)
    through :data:`ITEMS`.
    """

    id: str  # paper1:table1, paper2:fig2, ...
    title: str
    notebook: str  # notebook file name in notebooks/
    output: str  # file name in figures/<profile>/ or results/<profile>/
    kind: str = "figure"  # "figure" or "table" (tables and data go to results/)

    def path(self, profile: str) -> Path:
        """Absolute path of this item's output for ``profile``."""
        folder = paths.figures(profile, create=False) if self.kind == "figure" else paths.results(profile, create=False)
        return folder / self.output


NB00 = "00-setup-check.ipynb"
NB01 = "01-dream-synthesis.ipynb"
NB02 = "02-image-features.ipynb"
NB03 = "03-ratings-statistics.ipynb"
NB04 = "04-layer-response-figures.ipynb"
NB05 = "05-biggan-perturbation.ipynb"
NB06 = "06-biggan-block-resampling.ipynb"
NB07 = "07-nearest-painting.ipynb"
NB08 = "08-your-own-study.ipynb"

ITEMS: tuple[Item, ...] = (
    Item("setup:environment", "Versions, device, weights present, cache folders", NB00, "setup-check.json", "table"),
    # --- Paper 1: deep-dreamed images and emotion (Front. Psychol. 2024) -------------------
    Item("paper1:stimuli", "The 720 deep-dream stimuli (144 layers x 5 seeds) and their manifest", NB01, "dream/manifest.csv", "table"),
    Item("paper1:contact-sheet", "All 144 layers for one seed, in layer order", NB01, "p1-dream-contact-sheet.png"),
    Item("paper1:octaves", "One image across octaves and renders", NB01, "p1-dream-octaves.png"),
    Item("paper1:features", "Per-image features: HSV, JPEG size, Feature Congestion, Sub-band Entropy, spectra, edges, Aesthetics Toolbox measures", NB02, "features.parquet", "table"),
    Item("paper1:feature-distributions", "Distributions of the image features over the stimuli", NB02, "p1-feature-distributions.png"),
    Item("paper1:clutter-maps", "Clutter maps (Feature Congestion) for example layers", NB02, "p1-clutter-maps.png"),
    Item("paper1:feature-correlations", "Clustered heat map of the correlations between all image measures", NB02, "p1-feature-correlations.png"),
    Item("paper1:feature-separation", "Which image measures separate the layer types: Kruskal-Wallis H, eta^2_H, BH-adjusted p", NB02, "p1-feature-separation.csv", "table"),
    Item("paper1:feature-separation-plot", "Effect sizes (eta^2_H) of the measures that separate the layer types best", NB02, "p1-feature-separation.png"),
    Item("paper1:ratings", "Ratings used by the analyses (simulated unless RATINGS is given)", NB03, "ratings.parquet", "table"),
    Item("paper1:table1", "Table 1: Pearson correlations of arousal/valence with image features", NB03, "p1-table1-correlations.csv", "table"),
    Item("paper1:table1-heatmap", "Table 1 as a heat map", NB03, "p1-table1-correlations-heatmap.png"),
    Item("paper1:regression", "Multiple linear regressions of arousal and valence (selected and full models)", NB03, "p1-regression.csv", "table"),
    Item("paper1:mixed-model", "Crossed mixed-effects model of every rating beside the layer-mean regression", NB03, "p1-mixed-model.csv", "table"),
    Item("paper1:anova", "One-way ANOVAs of mean valence/arousal by attitude and self-esteem", NB03, "p1-anova.csv", "table"),
    Item("paper1:expected-vs-paper", "Paper 1's reported numbers beside ours, why they differ, and the paper's inconsistencies", NB03, "p1-expected-vs-paper.csv", "table"),
    Item("paper1:fig6", "Figure 6: violin + box plots of arousal and valence", NB03, "p1-fig06-violins.png"),
    Item("paper1:fig7", "Figure 7: affective judgments vs visual properties, per layer", NB03, "p1-fig07-features-vs-judgments.png"),
    Item("paper1:fig8", "Figure 8: arousal and valence by attitude", NB03, "p1-fig08-attitude.png"),
    Item("paper1:fig9", "Figure 9: arousal and valence by self-esteem", NB03, "p1-fig09-self-esteem.png"),
    Item("paper1:layer-tests", "Per-layer tests against neutral 50, corrected for multiple comparisons", NB04, "p1-layer-tests.csv", "table"),
    Item("paper1:layer-effect-sizes", "Effect sizes with 95% CIs for the per-layer tests (mean difference, d_z, rank-biserial r)", NB04, "p1-layer-effect-sizes.csv", "table"),
    Item("paper1:correction-sensitivity", "Figure 10's significant-layer count under BH over 288, BH per axis, Bonferroni, none", NB04, "p1-correction-sensitivity.csv", "table"),
    Item("paper1:power", "Participants needed to detect a layer effect with 80% power (from the simulator)", NB04, "p1-power.csv", "table"),
    Item("paper1:fig10", "Figure 10: per-layer box plots sorted by median", NB04, "p1-fig10-layer-boxplots.png"),
    Item("paper1:figS13", "Supplementary S13: per-layer box plots in layer order", NB04, "p1-figS13-layer-boxplots-by-position.png"),
    Item("paper1:group-tests", "Layer-type group comparisons (Figure 11)", NB04, "p1-group-tests.csv", "table"),
    Item("paper1:fig11", "Figure 11: grouped layer-type comparisons", NB04, "p1-fig11-layer-groups.png"),
    Item("paper1:joint-density", "Joint valence-arousal density statistics per layer (entropy, bimodality, corners)", NB04, "p1-joint-density.csv", "table"),
    Item("paper1:fig12", "Figure 12: joint densities of selected layers above their images", NB04, "p1-fig12-joint-density-cases.png"),
    Item("paper1:fig13", "Figure 13: layers whose median is nearest each corner/side", NB04, "p1-fig13-joint-density-corners.png"),
    Item("paper1:figS2", "Supplementary S2: joint densities, layers 1-48 (study order)", NB04, "p1-figS02-joint-densities.png"),
    Item("paper1:figS3", "Supplementary S3: joint densities, layers 49-96", NB04, "p1-figS03-joint-densities.png"),
    Item("paper1:figS4", "Supplementary S4: joint densities, layers 97-144", NB04, "p1-figS04-joint-densities.png"),
    Item("paper1:figS5-S12", "Supplementary S5-S12: images of the layers with extreme median ratings (nearest each corner/side)", NB04, "p1-figS05-S12-extreme-medians.png"),
    # --- Paper 2: aesthetics from perturbed BigGAN weights (Sci. Rep. 2023) ----------------
    Item("paper2:fig1", "Figure 1: the generator's blocks (entry, B1..B13, output) with parameter counts", NB05, "p2-fig01-blocks.csv", "table"),
    Item("paper2:fig2", "Figure 2: five perturbed networks (seeds 0-10) and the original", NB05, "p2-fig02-perturbed-gallery.png"),
    Item("paper2:figS1", "Supplementary S1: consecutive seeds 0-23, stupa and espresso", NB05, "p2-figS01-consecutive-seeds.png"),
    Item("paper2:figA2", "Supplementary A2: dependence on alpha", NB05, "p2-figA2-alpha-sweep.png"),
    Item("paper2:distances", "Cosine distances: perturbed vs original and between perturbed networks", NB05, "p2-distances.csv", "table"),
    Item("paper2:distance-vs-alpha", "Cosine distance vs alpha, measured and analytic", NB05, "p2-distance-vs-alpha.png"),
    Item("paper2:figS6", "Supplementary A4 / S6: radial spectra and Canny edges, perturbed vs original vs natural", NB05, "p2-figS06-spectra-edges.png"),
    Item("paper2:spectra-edges", "Per-image spectrum slope, low-frequency amplitude and edge density of the Figure S6 groups", NB05, "p2-spectra-edges.csv", "table"),
    Item("paper2:image-features", "Image statistics (HSV, JPEG size, clutter, spectra, edges) of the Figure 2 images", NB05, "p2-biggan-features.parquet", "table"),
    Item("paper2:fig5", "Figure 5: block B2 resampled (five seeds) and the original", NB06, "p2-fig05-b2-resampled.png"),
    Item("paper2:figS2", "Supplementary S2: B2 resampled, more consecutive seeds", NB06, "p2-figS02-b2-more-seeds.png"),
    Item("paper2:block-sweep", "Each of B1..B13 resampled in turn, same seed", NB06, "p2-block-sweep.png"),
    Item("paper2:figS7", "Supplementary A5 / S7: B2 resampling combined with the multiplicative perturbation", NB06, "p2-figS07-b2-plus-perturbation.png"),
    Item("paper2:fig4", "Figure 4: generated images beside their perceptually nearest ArtBench-10 painting", NB07, "p2-fig04-nearest-painting.png"),
    Item("paper2:fig4-top5", "Top-5 nearest paintings per generated image", NB07, "p2-fig04-top5.png"),
    Item("paper2:nearest", "Nearest-painting table (query, rank, artwork, similarity, metadata)", NB07, "p2-nearest-paintings.csv", "table"),
    # --- Your own study: any stimuli, a jsPsych experiment, its data back into the analyses ---
    Item("study:experiment", "Self-contained jsPsych rating experiment and its manifest (images, hashes, settings)", NB08, "study/experiment/manifest.json", "table"),
    Item("study:database", "The collection server's SQLite database of sessions and trials (SOURCE \"server\": what `python -m helpers.study export` reads)", NB08, "study/study.sqlite", "table"),
    Item("study:psychds", "The imported data as a Psych-DS dataset: ratings and participants CSVs, dataset_description.json", NB08, "study/psychds/dataset_description.json", "table"),
    Item("study:participants", "Imported participants with exclusion flags (incomplete, attention checks, unmoved sliders)", NB08, "study/participants.csv", "table"),
    Item("study:ratings", "Imported ratings in the general format (stimulus id + descriptive columns)", NB08, "study/ratings.parquet", "table"),
    Item("study:participant-answers", "The analysed participants' answers (one row each), saved beside the ratings", NB08, "study/participants-answers.parquet", "table"),
    Item("study:group-tests", "Per-group tests against neutral (Figure 10's test, any grouping variable)", NB08, "study/group-tests.csv", "table"),
    Item("study:effect-sizes", "Effect sizes with 95% CIs (mean difference, d_z, rank-biserial r) per group", NB08, "study/effect-sizes.csv", "table"),
    Item("study:effect-sizes-figure", "Forest plot of the per-group effects with CIs", NB08, "study-effect-sizes.png"),
    Item("study:correction-sensitivity", "Significant-group counts under BH (all / per axis), Bonferroni and no correction", NB08, "study/correction-sensitivity.csv", "table"),
    Item("study:mixed-model", "Crossed mixed model: rating ~ features + (1|participant) + (1|stimulus) [+ (1|layer)]", NB08, "study/mixed-model.csv", "table"),
    Item("study:power", "Power by number of participants for a planted layer effect (from the simulator)", NB08, "study/power.csv", "table"),
)


INPUTS: dict[str, tuple[tuple, ...]] = {
    # notebook -> ((notebook that writes it, file in results/<profile>/[, parameter that replaces it]), ...);
    # a file stands for its folder too (dream/manifest.csv: the dream images beside it)
    NB02: ((NB01, "dream/manifest.csv", "IMAGES"),),
    NB03: ((NB02, "features.parquet"),),
    NB04: ((NB03, "ratings.parquet"), (NB02, "features.parquet"), (NB01, "dream/manifest.csv")),
    NB07: ((NB05, "biggan/fig2/manifest.csv", "QUERIES"),),
    NB08: ((NB01, "dream/manifest.csv", "IMAGES"),),
}
"""Which notebook reads which other notebook's outputs (the pipeline skips a notebook whose input is missing).

``tests/test_notebooks.py`` checks these against the files each notebook of the smoke chain really opens."""

OPTIONAL_INPUTS: dict[str, tuple[tuple, ...]] = {
    NB03: ((NB01, "dream/manifest.csv"),),  # labels the feature figures STAND-IN when stand-in weights made the images
    NB04: ((NB03, "p1-key-numbers.json"),),  # notebook 04 adds its key numbers to notebook 03's file
}
"""Other notebooks' outputs a notebook reads when they exist, and runs without (never a reason to skip it)."""

PAPERS: dict[str, tuple[str, ...]] = {
    "1": (NB00, NB01, NB02, NB03, NB04),  # deep-dreamed images and emotion
    "2": (NB00, NB05, NB06, NB07),  # aesthetics from perturbed GAN weights
}
"""The notebooks each paper needs (``make paper1`` / ``make paper2``)."""


def needs(notebook: str) -> list[str]:
    """The notebooks whose outputs ``notebook`` reads (file name, with or without ``.ipynb``).

    Used in: no notebook; by :func:`helpers.pipeline.run`; ``benchmarks/class_chain.py``, ``benchmarks/dream.py``,
        ``benchmarks/dream_tf.py``, ``benchmarks/features.py`` and 5 more.
    """
    name = notebook if notebook.endswith(".ipynb") else notebook + ".ipynb"
    return list(dict.fromkeys(entry[0] for entry in INPUTS.get(name, ())))


def by_id(item_id: str) -> Item:
    """The item with this id; a clear KeyError listing the ids otherwise.

    Used in: no notebook; ``tests/test_pipeline.py``.
    """
    for item in ITEMS:
        if item.id == item_id:
            return item
    raise KeyError(f"no registry item {item_id!r}; known: {', '.join(i.id for i in ITEMS)}")


def for_notebook(notebook: str) -> list[Item]:
    """Items produced by one notebook (file name, with or without ``.ipynb``).

    Used in: no notebook; by :func:`helpers.pipeline.run`; ``tests/test_rehearsal_biggan.py``,
        ``tests/test_rehearsal_ratings.py``, ``tests/test_rehearsal_study.py``.
    """
    name = notebook if notebook.endswith(".ipynb") else notebook + ".ipynb"
    return [i for i in ITEMS if i.notebook == name]


def notebooks() -> list[str]:
    """The numbered notebooks in run order.

    Used in: notebook 00.
    """
    return sorted({i.notebook for i in ITEMS})


def markdown_table() -> str:
    """The registry as a Markdown table (docs/figures.md embeds this).

    Used in: no notebook; by :func:`helpers.pipeline.update_readme`; ``tests/test_pipeline.py``,
        ``tests/test_repo.py``.
    """
    rows = ["| id | what | notebook | output |", "|---|---|---|---|"]
    for i in ITEMS:
        folder = "figures" if i.kind == "figure" else "results"
        rows.append(f"| `{i.id}` | {i.title} | `{i.notebook}` | `{folder}/<profile>/{i.output}` |")
    return "\n".join(rows)
