"""ArtBench-10 on disk: the real layouts (CIFAR-python, CIFAR-binary, ImageFolder), the CSV join, downloads."""
from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pandas as pd
import pytest

from helpers import download, sources
from helpers.search import artbench
from helpers.testing import rehearsal


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every layout written by the rehearsal writer with the same seed (so the same stand-in pixels)."""
    root = tmp_path_factory.mktemp("artbench")
    return {lay: rehearsal.write_artbench(root / lay, layout=lay, n_per_style=6, seed=0)
            for lay in rehearsal.ARTBENCH_LAYOUTS}


@pytest.mark.parametrize("layout", rehearsal.ARTBENCH_LAYOUTS)
def test_rehearsal_layouts_read_with_their_metadata(written, layout):
    c = artbench.read_corpus(written[layout])
    assert c.kind == layout and len(c) == 60 and c.demo
    assert (c.items["split"] == "test").sum() == 10  # 1 of 6 per style, as 1,000 of 6,000
    assert c.items["style"].value_counts().to_dict() == {s: 6 for s in artbench.STYLES}
    assert c.items["artist"].str.startswith("demo-artist").all() and c.items["title"].notna().all()
    # each item carries its own CSV row: the CSV label equals the style the archive/folder gives it
    csv = pd.read_csv(written[layout].parent / artbench.METADATA_FILE if layout.startswith("cifar")
                      else written[layout].parent / artbench.METADATA_FILE)
    assert list(csv.columns) == list(artbench.CSV_COLUMNS)
    key = ["split", "cifar_index"] if layout.startswith("cifar") else ["name"]
    if layout.startswith("imagefolder"):
        c.items["name"] = c.items["file"]
    merged = c.items.merge(csv, on=key, suffixes=("", "_csv"))
    assert len(merged) == 60 and (merged["label"] == merged["style"]).all()
    assert (merged["artist_csv"] == merged["artist"]).all()
    img = c.load(0)
    assert img.dtype == np.uint8 and img.shape == ((32, 32, 3) if layout.startswith("cifar") else (256, 256, 3))


def test_cifar_python_agrees_with_torchvision_cifar10_reader(written, tmp_path):
    """The official loader is torchvision's CIFAR10 with ArtBench's folder and meta key (artbench.py)."""
    import torchvision

    with tarfile.open(written["cifar-python"]) as tar:
        tar.extractall(tmp_path, filter="data")

    class ArtBench10(torchvision.datasets.CIFAR10):
        base_folder = artbench.CIFAR_PYTHON_FOLDER
        train_list = [[b, None] for b in artbench.TRAIN_BATCHES]
        test_list = [[artbench.TEST_BATCH, None]]
        meta = {"filename": "meta", "key": "styles", "md5": None}

        def _check_integrity(self):  # stand-in bytes: the published md5s cannot match
            return True

    c = artbench.read_corpus(written["cifar-python"])
    for train in (True, False):
        ds = ArtBench10(str(tmp_path), train=train)
        part = c.items[c.items["split"] == ("train" if train else "test")]
        assert len(ds) == len(part)
        for i, ci, style in zip(part.index, part["cifar_index"], part["style"]):
            img, label = ds[int(ci)]
            np.testing.assert_array_equal(np.asarray(img), c.load(int(i)))
            assert ds.classes[label] == style
    # the extracted folder and the folder above it read the same
    np.testing.assert_array_equal(artbench.read_corpus(tmp_path).arrays, c.arrays)


def test_cifar_binary_holds_the_same_images_as_cifar_python(written):
    a, b = artbench.read_corpus(written["cifar-python"]), artbench.read_corpus(written["cifar-binary"])
    pd.testing.assert_frame_equal(a.items.drop(columns=["batch"]), b.items.drop(columns=["batch"]))
    np.testing.assert_array_equal(a.arrays, b.arrays)
    raw = tarfile.open(written["cifar-binary"]).extractfile(f"{artbench.CIFAR_BINARY_FOLDER}/test_batch.bin").read()
    assert len(raw) == 10 * artbench.RECORD_BYTES  # label byte + 3,072 pixel bytes per record


def test_join_falls_back_to_filenames_and_refuses_a_foreign_csv(tmp_path):
    p = rehearsal.write_artbench(tmp_path / "f", layout="cifar-python", n_per_style=3, filenames=True)
    csv = pd.read_csv(tmp_path / "f" / artbench.METADATA_FILE)
    csv.drop(columns=["cifar_index"]).to_csv(tmp_path / "nocidx.csv", index=False)
    c = artbench.read_corpus(p, metadata=tmp_path / "nocidx.csv")  # CIFAR-10 style: join on filenames
    assert c.items["artist"].notna().all()
    merged = c.items.merge(csv, left_on="file", right_on="name")
    assert (merged["label"] == merged["style"]).all()
    swapped = csv.copy()
    swapped["label"] = np.roll(swapped["label"].to_numpy(), 1)
    swapped.to_csv(tmp_path / "foreign.csv", index=False)
    with pytest.raises(ValueError, match="foreign.csv: label .* cifar_index"):
        artbench.read_corpus(p, metadata=tmp_path / "foreign.csv")
    pd.DataFrame({"file": ["x.jpg"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv: not an ArtBench-10 metadata file: missing column"):
        artbench.read_corpus(p, metadata=tmp_path / "bad.csv")


class _RunsACommand:
    """Pickles as a call of os.system: unpickling it with pickle.load would run the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pickle_that_runs_a_command_is_refused_and_nothing_runs(tmp_path, protocol):
    """A crafted CIFAR-python archive (folder or tar.gz): refused with the usual message, the command never runs."""
    marker = tmp_path / "pwned"
    batch = {b"data": _RunsACommand(f"touch {marker}"), b"labels": [0], b"filenames": [b"a.jpg"]}
    folder = tmp_path / "archive" / artbench.CIFAR_PYTHON_FOLDER
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(ValueError, match=r"data_batch_1: not a CIFAR-python pickle \(refusing to load posix.system"):
        artbench.read_corpus(tmp_path / "archive")
    with tarfile.open(tmp_path / "evil.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname=artbench.CIFAR_PYTHON_FOLDER)
    with pytest.raises(ValueError, match="evil.tar.gz:.*data_batch_1: not a CIFAR-python pickle"):
        artbench.read_corpus(tmp_path / "evil.tar.gz")
    assert not marker.exists()
    pickle.loads(pickle.dumps(batch, protocol=protocol))  # the same bytes under plain pickle do run it: the test is real
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_safe_reader_loads_every_protocol_of_a_real_batch(tmp_path, protocol):
    """What the format holds (arrays, dtypes, lists, bytes; Python 3's protocol-2 bytes) still loads."""
    from helpers import io

    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    batch = {b"data": data, b"labels": [np.int64(1), 2], b"filenames": [b"a.jpg", b"b.jpg"], b"batch_label": "x"}
    import io as _io

    got = io.load_numpy_pickle(_io.BytesIO(pickle.dumps(batch, protocol=protocol)), encoding="bytes")
    assert np.array_equal(got[b"data"], data) and got[b"labels"] == [1, 2] and got[b"filenames"] == [b"a.jpg", b"b.jpg"]
    crafted = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."  # a codec other than latin-1
    with pytest.raises(pickle.UnpicklingError, match="only latin-1"):
        io.load_numpy_pickle(_io.BytesIO(crafted))


def test_broken_batches_are_named(tmp_path):
    folder = tmp_path / artbench.CIFAR_PYTHON_FOLDER
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"\x00not a pickle")
    with pytest.raises(ValueError, match="data_batch_1: not a CIFAR-python pickle"):
        artbench.read_corpus(tmp_path)
    (folder / "data_batch_1").write_bytes(pickle.dumps({"pixels": 1}))
    with pytest.raises(ValueError, match="data_batch_1: not a CIFAR-python batch: keys"):
        artbench.read_corpus(folder)
    bfolder = tmp_path / "bin" / artbench.CIFAR_BINARY_FOLDER
    bfolder.mkdir(parents=True)
    (bfolder / "test_batch.bin").write_bytes(b"\x01" * (artbench.RECORD_BYTES + 5))
    with pytest.raises(ValueError, match="test_batch.bin: .* not a whole number of 3073-byte"):
        artbench.read_corpus(tmp_path / "bin")


def test_subset_is_fixed_and_balanced(written):
    c = artbench.read_corpus(written["cifar-python"])
    s = artbench.subset(c, n_per_style=2, split="train")
    assert len(s) == 20 and s.items["style"].value_counts().eq(2).all() and (s.items["split"] == "train").all()
    for style, g in s.items.groupby("style"):
        first = c.items[(c.items["style"] == style) & (c.items["split"] == "train")]["cifar_index"].nsmallest(2)
        assert sorted(g["cifar_index"]) == sorted(first)
    np.testing.assert_array_equal(s.load(0), c.arrays[int(s.items["row"].iat[0])])
    with pytest.raises(ValueError, match="split 'val' not in the corpus"):
        artbench.subset(c, n_per_style=2, split="val")


def test_download_checks_the_published_md5(tmp_path):
    """A local file under the CIFAR-python name must match the md5 ArtBench's loader publishes."""
    (tmp_path / "artbench-10-python.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(download.ChecksumError, match="md5 .* 9df1e998ee026aae36ec60ca7b44960e"):
        artbench.download_artbench(tmp_path, what=("cifar-python",), progress=False)
    assert sources.ARTBENCH_URLS["cifar-python"] == "https://artbench.eecs.berkeley.edu/files/artbench-10-python.tar.gz"


def test_locate_corpus_names_the_url_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("NA_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="artbench-10-python.tar.gz"):
        artbench.locate_corpus(layout="cifar-python")
    p = rehearsal.write_artbench(tmp_path, layout="cifar-python", n_per_style=2)
    assert artbench.locate_corpus(layout="cifar-python") == p
    root = rehearsal.write_artbench(tmp_path / "if", layout="imagefolder-split", n_per_style=2)
    monkeypatch.setenv("NA_DATA_DIR", str(tmp_path / "if"))
    assert artbench.locate_corpus() == root


def test_read_corpus_demo_layouts_and_metadata_join(tmp_path, empty_dir):
    split = artbench.read_corpus(artbench.make_demo_corpus(tmp_path / "s", n=12, size=32, seed=0))
    assert split.kind == "imagefolder-split" and len(split) == 12
    row = split.items.iloc[0]
    assert row["artist"].startswith("demo-artist") and row["style"] in artbench.STYLES and row["split"] in ("train", "test")
    assert row["title"] and row["title"][0].isupper()
    flat = artbench.read_corpus(artbench.make_demo_corpus(tmp_path / "f", n=12, size=32, seed=0, split=False))
    assert flat.kind == "imagefolder" and flat.items["style"].notna().all()
    (tmp_path / "f" / artbench.METADATA_FILE).unlink()
    nometa = artbench.read_corpus(tmp_path / "f", metadata=None)
    assert nometa.items["artist"].isna().all() and nometa.items["title"].notna().all()

    # CIFAR-python: pickle batches with data (N x 3072), labels, filenames; meta with styles
    rng = np.random.default_rng(0)
    folder = tmp_path / "artbench-10-batches-py"
    folder.mkdir()
    for name, n in (("data_batch_1", 5), ("test_batch", 3)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(range(n)),
                 b"filenames": [f"{name}-img{i}.jpg".encode() for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "meta").write_bytes(pickle.dumps({b"styles": [s.encode() for s in artbench.STYLES]}))
    pd.DataFrame({"name": ["data_batch_1-img2.jpg"], "artist": ["someone"], "label": ["expressionism"],
                  "split": ["train"]}).to_csv(tmp_path / artbench.METADATA_FILE, index=False)
    cif = artbench.read_corpus(folder)
    assert cif.kind == "cifar-python" and len(cif) == 8 and cif.load(0).shape == (32, 32, 3)
    assert (cif.items["artist"] == "someone").sum() == 1
    with tarfile.open(tmp_path / "artbench-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    cif2 = artbench.read_corpus(tmp_path / "artbench-10-python.tar.gz")
    np.testing.assert_array_equal(cif2.load(7), cif.load(7))

    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    for i in range(3):
        from helpers import io

        io.save_image(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), plain / "sub" / f"x{i}.png")
    assert artbench.read_corpus(plain).kind == "folder"
    with pytest.raises(FileNotFoundError, match="no image files"):
        artbench.read_corpus(empty_dir)


