"""Download the ISIC challenge archives into their official layout, resumably.

Each archive is fetched with pooch (hash checking, the temporary-then-rename placement and the
skip of files already there) through a downloader that resumes: bytes go to
``<root>/.downloads/<name>.part`` with HTTP range requests, so an interrupted download continues
where it stopped, and are checked against the size the server announced. Archives are then
extracted all-or-nothing, refusing members that would escape the folder, and marked complete;
a complete dataset is a no-op. PH2 is not downloadable: its authors distribute it on request.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
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


class ResumingDownloader:
    """A pooch downloader that resumes: bytes go to a stable ``<name>.part`` beside the
    target, so an interrupted transfer continues with an HTTP range request next time; the
    whole file is handed to pooch, which checks its hash and moves it into place.

    Args:
        part: the partial file to append to.
        timeout: seconds without an answer before giving up.
        progress: show a progress bar.
    """

    def __init__(self, part: Path, timeout: float = 60.0, progress: bool = False) -> None:
        self.part, self.timeout, self.progress = part, timeout, progress

    def __call__(self, url: str, output_file, pooch_instance=None, check_only=False) -> None:
        import requests

        start = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": f"bytes={start}-"} if start else {}
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as response:
            if response.status_code == 416 and start:  # range not satisfiable: part is whole
                total = start
            else:
                response.raise_for_status()
                if start and response.status_code != 206:
                    start = 0  # the server ignored the range: start over
                total = _total_size(response.headers, start)
                self._stream(url, response, start, total)
        size = self.part.stat().st_size
        if total is not None and size != total:
            raise DownloadError(
                f"{url}: got {size} bytes, expected {total}; run the same command again to resume"
            )
        os.replace(self.part, output_file)

    def _stream(self, url: str, response, start: int, total: int | None) -> None:
        import requests
        import urllib3

        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=self.part.stem)
        try:
            with open(self.part, "ab" if start else "wb") as f:
                # read1: whatever has arrived, so bytes received before a cut are kept.
                while chunk := response.raw.read1(CHUNK):
                    f.write(chunk)
                    if bar:
                        bar.update(len(chunk))
        except (OSError, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise DownloadError(
                f"{url}: interrupted after {self.part.stat().st_size} bytes ({exc}); "
                "run the same command again to resume"
            ) from exc
        finally:
            if bar:
                bar.close()


def _total_size(headers, start: int) -> int | None:
    content_range = headers.get("Content-Range")  # "bytes 100-199/1000"
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = headers.get("Content-Length")
    return int(length) + start if length is not None else None


def fetch(
    url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0, progress: bool = False
) -> Path:
    """Download ``url`` to ``dest`` through pooch, resuming from ``dest.part`` if an earlier
    try stopped, and checking the SHA-256 where one is known.

    Raises:
        DownloadError: the server failed, or the size or checksum does not match (a file that
            fails its checksum is removed).
    """
    import pooch
    import requests

    # pooch logs every download and, without a known hash, a hint to pin one: ours say enough.
    pooch.get_logger().setLevel(logging.WARNING)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}" if sha256 else None,
            fname=dest.name,
            path=dest.parent,
            downloader=ResumingDownloader(part, timeout, progress),
        )
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        reason = exc.response.reason if exc.response is not None else exc
        raise DownloadError(f"{url}: HTTP {status} {reason}") from exc
    except requests.RequestException as exc:
        raise DownloadError(f"{url}: {exc}; run the same command again to resume") from exc
    except ValueError as exc:  # pooch: the hash does not match (the file is already removed)
        raise DownloadError(
            f"{url}: SHA-256 does not match the expected {sha256} ({exc}); "
            "the partial file was removed, run the command again"
        ) from exc
    return Path(path)


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
