"""The ISIC downloader against a local HTTP server (127.0.0.1) serving small archives."""

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from skinseg.cli.main import main as cli
from skinseg.data import SkinLesionDataModule
from skinseg.data.download import ARCHIVES, MARKER, DownloadError, download, fetch

from .conftest import make_isic


def zip_folder(folder) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    return buf.getvalue()


class Server:
    """Serves ``files`` (url path -> bytes) with Range support; can cut the first response."""

    def __init__(self, files):
        self.files, self.requests, self.cut_first = files, [], set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng := self.headers.get("Range"):
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut_first:
                    server.cut_first.discard(self.path)
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-transfer
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def isic2016_server(tmp_path):
    source = make_isic(tmp_path / "source", "isic2016", {"train": 6, "test": 2})
    files = {f"/{a.path}": zip_folder(source / a.folder) for a in ARCHIVES["isic2016"]}
    server = Server(files)
    yield server
    server.close()


def test_download_extracts_official_layout_and_is_idempotent(tmp_path, isic2016_server):
    root = tmp_path / "ISIC2016"
    folders = download("isic2016", root, isic2016_server.url, progress=False)
    assert [f.name for f in folders] == [a.folder for a in ARCHIVES["isic2016"]]
    assert all((f / MARKER).is_file() for f in folders)
    assert not (root / ".downloads").exists()
    dm = SkinLesionDataModule("isic2016", str(root), image_size=(32, 32), num_workers=0)
    dm.setup()
    assert len(dm.split["test"]) == 2
    n = len(isic2016_server.requests)
    download("isic2016", root, isic2016_server.url, progress=False)
    assert len(isic2016_server.requests) == n  # complete: nothing fetched


def test_interrupted_download_resumes(tmp_path, isic2016_server):
    path = "/" + ARCHIVES["isic2016"][0].path
    isic2016_server.cut_first.add(path)
    dest = tmp_path / "a.zip"
    with pytest.raises(DownloadError, match="run the same command again"):
        fetch(isic2016_server.url + path, dest)
    part = dest.with_name("a.zip.part")
    assert 0 < part.stat().st_size < len(isic2016_server.files[path])
    fetch(isic2016_server.url + path, dest)
    assert dest.read_bytes() == isic2016_server.files[path]
    assert isic2016_server.requests[-1][1] is not None  # the second request asked for a range


def test_checksum_mismatch_removes_part(tmp_path, isic2016_server):
    path = "/" + ARCHIVES["isic2016"][0].path
    with pytest.raises(DownloadError, match="SHA-256"):
        fetch(isic2016_server.url + path, tmp_path / "a.zip", sha256="0" * 64)
    assert not (tmp_path / "a.zip.part").exists() and not (tmp_path / "a.zip").exists()


def test_missing_archive_and_cli_error(tmp_path, isic2016_server, capsys):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(isic2016_server.url + "/nope.zip", tmp_path / "x.zip")
    code = cli(
        [
            "download",
            "isic2017",
            "--root",
            str(tmp_path / "r"),
            "--base-url",
            isic2016_server.url,
            "--quiet",
        ]
    )
    assert code == 2 and "HTTP 404" in capsys.readouterr().err


def test_zip_slip_refused(tmp_path):
    from skinseg.data.download import extract

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DownloadError, match="escapes"):
        extract(evil, root, "folder")
    assert not (tmp_path / "outside.txt").exists()


def test_ph2_is_not_downloadable(tmp_path):
    with pytest.raises(ValueError, match="on request"):
        download("ph2", tmp_path)
