"""Downloads with resume, progress bar and sha256 checks; trust-on-first-download records; the file hashers.

A hash is *pinned* only where it can be cited (:mod:`helpers.sources` lists every URL and pin: a
publisher's checksum, torchvision's file-name prefix, a public catalog). For every other file the sha256 is recorded beside the file at first download
(``<file>.sha256``) and verified on every later load, so a corrupted or swapped file is
caught even though no hash could be pinned in advance.

A file may have several download locations (:func:`download_first` tries them in order).
:func:`sha256sum` is the project's one file hash; :func:`md5sum` only checks a publisher's md5.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path


class ChecksumError(RuntimeError):
    """A file's sha256 differs from the pinned or recorded one.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """


class DownloadError(RuntimeError):
    """A download failed (no network, HTTP error, interrupted).

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """


def sha256sum(path, *, chunk: int = 1 << 22, progress: bool = False) -> str:
    """Hex sha256 of a file, streamed in chunks.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 07 through :class:`helpers.search.gram.GramEncoder`; notebook
        08 through :func:`helpers.study.experiment.export`.
    """
    path = Path(path)
    h = hashlib.sha256()
    bar = _bar(path.stat().st_size, f"sha256 {path.name}", progress)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            bar.update(len(block))
    bar.close()
    return h.hexdigest()


def md5sum(path, *, chunk: int = 1 << 22) -> str:
    """Hex md5 of a file, streamed in chunks: only to compare with a checksum a publisher states in md5.

md5 is no protection against a crafted file; :func:`sha256sum` is the project's hash. It is kept for
ArtBench-10, whose own loader publishes md5 sums (:data:`helpers.sources.CIFAR_PYTHON_MD5`).

    Used in: notebook 07 through :func:`helpers.search.artbench.locate_corpus`.
    """
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _bar(total, desc, enable):
    from helpers.progress import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enable, leave=False)


def record_path(path) -> Path:
    """The sidecar file that records ``path``'s sha256 at first download.

    Used in: notebook 00 (setup-check.json) through :func:`helpers.nets.models.status`; notebooks 01
        (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through :func:`helpers.nets.models.load`;
        notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def verify(path, *, sha256: str | None = None, sha256_prefix: str | None = None, record: bool = True,
           progress: bool = False) -> str:
    """Check ``path`` against a pinned sha256 (or prefix), else against its recorded one.

    With neither a pin nor a record, the hash is recorded now (when ``record``) and
    returned. Returns the file's sha256.

    Raises:
        ChecksumError: naming the file, the expected and the actual hash.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    path = Path(path)
    actual = sha256sum(path, progress=progress)
    rec = record_path(path)
    if sha256 and actual != sha256.lower():
        raise ChecksumError(f"{path}: sha256 {actual} but {sha256} is pinned; delete the file and download it again")
    if sha256_prefix and not actual.startswith(sha256_prefix.lower()):
        raise ChecksumError(f"{path}: sha256 {actual} does not start with the pinned prefix {sha256_prefix}; "
                            "delete the file and download it again")
    if rec.exists():
        expected = rec.read_text().split()[0]
        if expected != actual:
            raise ChecksumError(f"{path}: sha256 {actual} differs from {expected} recorded at first download in {rec}; "
                                "the file changed since (delete both files to download again)")
    elif record:
        try:
            rec.write_text(f"{actual}  {path.name}\n")
        except OSError:
            pass  # read-only location (a user's own copy): verification still happened above
    return actual


def download(url: str, dest, *, sha256: str | None = None, sha256_prefix: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` with resume, a progress bar and a sha256 check.

    Bytes go to ``dest.part`` first; an interrupted download resumes from there (HTTP
    Range) on the next call. Only a complete, verified file is renamed to ``dest``.

    Raises:
        DownloadError: the network or server failed (the message names the URL).
        ChecksumError: the finished file does not match the pin.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "neural-aesthetics-notebooks"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if have and resp.status != 206:  # server ignored Range: start over
                have = 0
            total = resp.headers.get("Content-Length")
            total = int(total) + have if total else None
            bar = _bar(total, dest.name, progress)
            bar.update(have)
            with open(part, "ab" if have else "wb") as f:
                while block := resp.read(1 << 20):
                    f.write(block)
                    bar.update(len(block))
            bar.close()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DownloadError(f"download of {url} failed: {exc}") from exc
    try:
        actual = verify(part, sha256=sha256, sha256_prefix=sha256_prefix, record=False)
    except ChecksumError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    record_path(dest).write_text(f"{actual}  {dest.name}\n")
    return dest


def download_first(urls, dest, *, sha256: str | None = None, sha256_prefix: str | None = None,
                   progress: bool = True, timeout: float = 30.0) -> Path:
    """Try each of ``urls`` in order with :func:`download`; the first verified file wins.

    A location that fails (network, HTTP error, or a file that does not match the pin) is
    skipped for the next one. Without a pin the partial file of a failed location is
    discarded before the next location is tried, so bytes of two sources are never joined
    into one file that would then be trusted on first download.

    Raises:
        DownloadError: every location failed; the message lists each URL with its reason.
        ChecksumError: with a single location, as :func:`download`.

    Used in: notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through
        :func:`helpers.nets.models.load`; notebook 02 through :func:`helpers.measures.table.table` (measure group
        ``"aesthetics"``); notebook 07 through :class:`helpers.search.gram.GramEncoder`.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise DownloadError(f"no download location is known for {Path(dest).name}")
    if len(urls) == 1:
        return download(urls[0], dest, sha256=sha256, sha256_prefix=sha256_prefix, progress=progress, timeout=timeout)
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    reasons = []
    for i, url in enumerate(urls):
        if i and not (sha256 or sha256_prefix):
            part.unlink(missing_ok=True)
        try:
            return download(url, dest, sha256=sha256, sha256_prefix=sha256_prefix, progress=progress, timeout=timeout)
        except (DownloadError, ChecksumError) as exc:
            reasons.append(f"{url}: {exc}")
    raise DownloadError(f"all {len(urls)} download locations failed:\n    " + "\n    ".join(reasons))
