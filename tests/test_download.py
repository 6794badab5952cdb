"""Downloads: resume from a partial file, progress, sha256 pins and records (loopback server only)."""
from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from helpers import download

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    requests_seen: list = []

    def do_GET(self):  # noqa: N802
        type(self).requests_seen.append(self.headers.get("Range"))
        if self.path != "/file.bin":
            self.send_error(404)
            return
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _RangeHandler.requests_seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_resumes_and_records_sha256(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.with_name("file.bin.part").write_bytes(PAYLOAD[:1000])  # an interrupted earlier download
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    download.download(f"{server}/file.bin", dest, sha256=sha, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert _RangeHandler.requests_seen == ["bytes=1000-"]
    assert not dest.with_name("file.bin.part").exists()
    assert download.record_path(dest).read_text().split()[0] == sha
    assert download.verify(dest) == sha


def test_download_rejects_wrong_pin_and_keeps_nothing(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.ChecksumError, match="pinned"):
        download.download(f"{server}/file.bin", dest, sha256_prefix="ffff0000", progress=False)
    assert not dest.exists() and not dest.with_name("file.bin.part").exists()


def test_download_http_error_names_the_url(server, tmp_path):
    with pytest.raises(download.DownloadError, match="missing.bin"):
        download.download(f"{server}/missing.bin", tmp_path / "m.bin", progress=False)


def test_verify_trust_on_first_use(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    first = download.verify(f)
    assert first == hashlib.sha256(b"abc").hexdigest() and download.record_path(f).exists()
    f.write_bytes(b"abd")
    with pytest.raises(download.ChecksumError, match="differs"):
        download.verify(f)


def test_download_first_tries_locations_in_order(server, tmp_path):
    dest = tmp_path / "file.bin"
    download.download_first([f"{server}/gone.bin", f"{server}/file.bin"], dest, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert download.record_path(dest).read_text().split()[0] == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_first_names_every_failed_location(server, tmp_path):
    with pytest.raises(download.DownloadError, match="all 2 download locations failed") as err:
        download.download_first([f"{server}/a.bin", f"{server}/b.bin"], tmp_path / "x.bin", progress=False)
    assert "a.bin" in str(err.value) and "b.bin" in str(err.value)
    with pytest.raises(download.ChecksumError):  # one location: the download's own error
        download.download_first(f"{server}/file.bin", tmp_path / "y.bin", sha256_prefix="ffff", progress=False)
    # a wrong file at the first location is skipped for the next one
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(download.DownloadError, match="pinned"):
        download.download_first([f"{server}/file.bin"] * 2, tmp_path / "z.bin", sha256="0" * 64, progress=False)
    assert download.download_first([f"{server}/nope.bin", f"{server}/file.bin"], tmp_path / "z.bin", sha256=sha,
                                   progress=False).read_bytes() == PAYLOAD
