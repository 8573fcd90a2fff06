"""Download the ISIC challenge archives into their official layout, resumably.

Each archive is fetched to ``<root>/.downloads/<name>.part`` with HTTP range requests (an
interrupted download resumes where it stopped), checked against the size the server announced
(and a SHA-256 where one is known), extracted safely and marked complete; a complete dataset is
a no-op. PH2 is not downloadable: its authors distribute it on request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com"
MARKER = ".skinseg-complete"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """One zip archive of a challenge, the folder it extracts to and, if known, its SHA-256."""

    path: str  # relative to the base URL, e.g. "2017/ISIC-2017_Training_Data.zip"
    folder: str
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _archives(year: str, names: list[str]) -> list[Archive]:
    return [Archive(f"{year}/{n}.zip", n) for n in names]


ARCHIVES: dict[str, list[Archive]] = {
    "isic2016": _archives(
        "2016",
        [
            "ISBI2016_ISIC_Part1_Training_Data",
            "ISBI2016_ISIC_Part1_Training_GroundTruth",
            "ISBI2016_ISIC_Part1_Test_Data",
            "ISBI2016_ISIC_Part1_Test_GroundTruth",
        ],
    ),
    "isic2017": _archives(
        "2017",
        [
            "ISIC-2017_Training_Data",
            "ISIC-2017_Training_Part1_GroundTruth",
            "ISIC-2017_Validation_Data",
            "ISIC-2017_Validation_Part1_GroundTruth",
            "ISIC-2017_Test_v2_Data",
            "ISIC-2017_Test_v2_Part1_GroundTruth",
        ],
    ),
    "isic2018": _archives(
        "2018",
        [
            "ISIC2018_Task1-2_Training_Input",
            "ISIC2018_Task1_Training_GroundTruth",
            "ISIC2018_Task1-2_Validation_Input",
            "ISIC2018_Task1_Validation_GroundTruth",
            "ISIC2018_Task1-2_Test_Input",
            "ISIC2018_Task1_Test_GroundTruth",
        ],
    ),
}


class DownloadError(RuntimeError):
    """A download failed or its result did not verify."""


def _total_size(response, start: int) -> int | None:
    content_range = response.headers.get("Content-Range")  # "bytes 100-199/1000"
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) + start if length is not None else None


def fetch(
    url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0, progress: bool = False
) -> Path:
    """Download ``url`` to ``dest``, resuming from ``dest.part`` if an earlier try stopped.

    Raises:
        DownloadError: the server failed, or the size or checksum does not match.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # range not satisfiable: the part is already whole
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {exc}") from exc
    total = None
    if response is not None:
        with response:
            if start and response.status != 206:
                start = 0  # the server ignored the range: start over
            total = _total_size(response, start)
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=dest.name)
            try:
                with open(part, "ab" if start else "wb") as f:
                    while chunk := response.read(CHUNK):
                        f.write(chunk)
                        if bar:
                            bar.update(len(chunk))
            except (OSError, urllib.error.URLError) as exc:
                raise DownloadError(
                    f"{url}: interrupted after {part.stat().st_size} bytes ({exc}); "
                    "run the same command again to resume"
                ) from exc
            finally:
                if bar:
                    bar.close()
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(
            f"{url}: got {size} bytes, expected {total}; run the same command again to resume"
        )
    if sha256 is not None:
        digest = hashlib.sha256()
        with open(part, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            part.unlink()
            raise DownloadError(
                f"{url}: SHA-256 {digest.hexdigest()} does not match the expected {sha256}; "
                "the partial file was removed, run the command again"
            )
    os.replace(part, dest)
    return dest


def extract(archive: Path, root: Path, folder: str) -> Path:
    """Extract ``archive`` into ``root``, refusing members outside it; ``root/folder`` appears
    whole or not at all."""
    target = root / folder
    with tempfile.TemporaryDirectory(dir=root, prefix=".extract-") as tmp:
        tmp_path = Path(tmp).resolve()
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.infolist():
                    out = (tmp_path / member.filename).resolve()
                    if not out.is_relative_to(tmp_path):
                        raise DownloadError(
                            f"{archive}: member {member.filename!r} escapes the folder"
                        )
                zf.extractall(tmp_path)
        except zipfile.BadZipFile as exc:
            archive.unlink()
            raise DownloadError(f"{archive}: not a valid zip ({exc}); removed, run again") from exc
        source = tmp_path / folder
        if not source.is_dir():  # archive without its top folder: its content is the folder
            source = tmp_path
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(source), str(target))
    (target / MARKER).write_text(archive.name + "\n", encoding="utf-8")
    return target


def download(
    edition: str,
    root: str | Path,
    base_url: str | None = None,
    keep_archives: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Fetch and extract every archive of ``edition`` into ``root``; complete ones are skipped.

    Returns:
        The dataset folders, in the order of :data:`ARCHIVES`.
    """
    if edition not in ARCHIVES:
        raise ValueError(
            f"unknown dataset {edition!r}; downloadable: {sorted(ARCHIVES)} "
            "(PH2 is distributed by its authors on request)"
        )
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    base_url = (base_url or os.environ.get("SKINSEG_ISIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    folders = []
    for archive in ARCHIVES[edition]:
        target = root / archive.folder
        if (target / MARKER).is_file():
            log.info("%s: complete", target)
            folders.append(target)
            continue
        zip_path = root / ".downloads" / archive.filename
        if not zip_path.is_file():
            fetch(f"{base_url}/{archive.path}", zip_path, archive.sha256, progress=progress)
        extract(zip_path, root, archive.folder)
        if not keep_archives:
            zip_path.unlink()
        folders.append(target)
    downloads = root / ".downloads"
    if downloads.is_dir() and not any(downloads.iterdir()):
        downloads.rmdir()
    return folders
