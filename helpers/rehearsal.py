"""Rehearsal files: each network and dataset in its *real on-disk format*, holding stand-in weights.

Pretrained weights and ArtBench-10 cannot be downloaded on CI or in this workplace, so the
paper profile's loading code would otherwise never meet a file it did not write itself. The
writers here produce files in the layouts the real artifacts have (Google's
``inception5h.zip`` GraphDef, torch-lucent's ``inception5h.pth``, pytorch_pretrained_biggan's
``pytorch_model.bin`` + ``config.json``, torchvision's ``resnet152-394f9c45.pth``, ArtBench-10's
archives and CSV), made through the authoritative code path where one exists. The weights in
them are seeded random stand-ins: everything made from them is labelled STAND-IN.

Used by the ``rehearsal`` test tier, the ``class`` profile in CI, and the benchmarks.
"""
from __future__ import annotations


# === inception5h (GraphDef zip, lucent .pth) ==================================================
# (helpers.rehearsal: inception5h writers go here)



# === BigGAN-deep-256 and ResNet-152 ============================================================
# (helpers.rehearsal: biggan / resnet writers go here)



# === ArtBench-10 (CIFAR-python, CIFAR-binary, ImageFolder, CSV) ===============================
# Layouts and names from helpers.artbench (which cites liaopeiyuan/artbench@57fbb92 and public loaders
# of the real files). Pixels are helpers.artbench.demo_painting stand-ins; the CSV has the real
# columns with clearly fake values (demo-artist-*, example.invalid URLs), and DEMO-NOT-ARTBENCH.txt
# beside the files makes every figure say DEMO CORPUS.
ARTBENCH_LAYOUTS = ("cifar-python", "cifar-binary", "imagefolder-split", "imagefolder")


def _artbench_plan(n_per_style: int, seed: int):
    """(style, split, cifar_index) for every stand-in image: 1/6 of each style in test, as 1,000 of 6,000."""
    import numpy as np

    from helpers import artbench

    if n_per_style < 2:
        raise ValueError(f"write_artbench: n_per_style must be >= 2 (one train and one test image), got {n_per_style}")
    rng = np.random.default_rng(seed)
    n_test = max(1, round(n_per_style / 6))
    plan = {"train": [], "test": []}
    for s in range(len(artbench.STYLES)):
        plan["train"] += [s] * (n_per_style - n_test)
        plan["test"] += [s] * n_test
    for split in plan:  # the real batches mix the styles
        rng.shuffle(plan[split])
    return [(s, split, i) for split in ("train", "test") for i, s in enumerate(plan[split])]


def write_artbench(folder, *, layout: str = "cifar-python", n_per_style: int = 12, seed: int = 0,
                   filenames: bool = False) -> "Path":
    """Write a stand-in ArtBench-10 in one of its real on-disk layouts, with ``ArtBench-10.csv``.

    * ``"cifar-python"``: ``artbench-10-python.tar.gz`` holding ``artbench-10-batches-py/`` with
      pickled dicts ``data_batch_1..5`` / ``test_batch`` (``data`` N x 3072 uint8 in R, G, B planes,
      ``labels``; ``filenames`` only with ``filenames=True``) and ``meta`` (``styles``); 32 px.
    * ``"cifar-binary"``: ``artbench-10-binary.tar.gz`` holding ``artbench-10-batches-bin/`` with
      ``data_batch_1..5.bin`` / ``test_batch.bin`` (3,073-byte records: label byte + pixels) and
      ``batches.meta.txt``; 32 px.
    * ``"imagefolder-split"`` / ``"imagefolder"``: the ``.tar`` of 256x256 JPEGs
      (``<split>/<style>/<name>.jpg`` or ``<style>/<name>.jpg``), extracted beside it by
      :func:`helpers.artbench.download_artbench`'s own extraction code.

    Train images fill the five train batches in consecutive blocks; ``cifar_index`` is the
    position within the split's concatenated batches, as in the real CSV.

    Args:
        folder: output folder (also what ``NA_DATA_DIR`` should point at).
        layout: one of :data:`ARTBENCH_LAYOUTS`.
        n_per_style: images per style (about 1/6 of them in the test split; the real set has 6,000).
        seed: seeds the pixels, the shuffling and the fake titles.
        filenames: also store ``filenames`` in the CIFAR-python batches (CIFAR-10 does; the
            official ArtBench loader does not read them).

    Returns:
        The path :func:`helpers.artbench.read_corpus` takes: the CIFAR archive or the extracted
        ImageFolder root.
    """
    import io as _io
    import pickle
    import tarfile
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from helpers import artbench, io

    if layout not in ARTBENCH_LAYOUTS:
        raise ValueError(f"write_artbench: layout must be one of {ARTBENCH_LAYOUTS}, got {layout!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    plan = _artbench_plan(n_per_style, seed)
    cifar = layout.startswith("cifar")
    size = 32 if cifar else 256
    rows, pixels = [], []
    for j, (s, split, ci) in enumerate(plan):
        pixels.append(artbench.demo_painting(rng, s, size))
        rows.append(artbench.demo_row(j, s, rng, size=size, split=split, cifar_index=ci))
    io.save_table(pd.DataFrame(rows, columns=list(artbench.CSV_COLUMNS)), folder / artbench.METADATA_FILE)
    io.write_bytes(folder / artbench.DEMO_MARKER, (artbench.DEMO_CORPUS_NOTE + "\n").encode())
    archive = folder / artbench.ARTBENCH_URLS[layout].rsplit("/", 1)[1]

    def add(tar, name, data: bytes):
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, _io.BytesIO(data))

    if cifar:
        batches = {b: [] for b in (*artbench.TRAIN_BATCHES, artbench.TEST_BATCH)}
        for j, (s, split, ci) in enumerate(plan):
            b = artbench.TEST_BATCH if split == "test" else artbench.TRAIN_BATCHES[ci * 5 // max(1, _n(plan, "train"))]
            batches[b].append(j)
        with io.atomic_path(archive, suffix=".tmp") as tmp, tarfile.open(tmp, "w:gz") as tar:
            for b, js in batches.items():
                data = np.stack([pixels[j].transpose(2, 0, 1).reshape(-1) for j in js]) if js else np.zeros((0, 3072), np.uint8)
                labels = [plan[j][0] for j in js]
                if layout == "cifar-python":
                    entry = {"batch_label": f"stand-in {b}", "labels": labels, "data": data}
                    if filenames:
                        entry["filenames"] = [rows[j]["name"] for j in js]
                    add(tar, f"{artbench.CIFAR_PYTHON_FOLDER}/{b}", pickle.dumps(entry, protocol=2))
                else:
                    rec = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1) if js else data
                    add(tar, f"{artbench.CIFAR_BINARY_FOLDER}/{b}.bin", rec.astype(np.uint8).tobytes())
            if layout == "cifar-python":
                add(tar, f"{artbench.CIFAR_PYTHON_FOLDER}/meta", pickle.dumps({"styles": list(artbench.STYLES)}, protocol=2))
            else:
                add(tar, f"{artbench.CIFAR_BINARY_FOLDER}/{artbench.BINARY_META}", ("\n".join(artbench.STYLES) + "\n").encode())
        return archive
    top = f"artbench-10-{layout}"
    with io.atomic_path(archive, suffix=".tmp") as tmp, tarfile.open(tmp, "w") as tar:
        for (s, split, _), row, img in zip(plan, rows, pixels):
            buf = _io.BytesIO()
            from PIL import Image

            Image.fromarray(img).save(buf, format="JPEG", quality=90)
            sub = f"{split}/{artbench.STYLES[s]}" if layout == "imagefolder-split" else artbench.STYLES[s]
            add(tar, f"{top}/{sub}/{row['name']}", buf.getvalue())
    root = artbench._extract_once(archive, folder)
    io.write_bytes(root / artbench.DEMO_MARKER, (artbench.DEMO_CORPUS_NOTE + "\n").encode())
    return root


def _n(plan, split):
    return sum(1 for p in plan if p[1] == split)



# === all at once ==============================================================================
# (helpers.rehearsal: write_all goes here)
