"""``skinseg download``: fetch an ISIC challenge's segmentation data in its official layout."""

from __future__ import annotations

import argparse
import logging

HELP = "Download ISIC 2016/2017/2018 segmentation data (resumable, verified, no-op when complete)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=["isic2016", "isic2017", "isic2018"])
    parser.add_argument("--root", required=True, help="folder to download and extract into")
    parser.add_argument(
        "--base-url",
        default=None,
        help="mirror of the archives (default: the ISIC challenge bucket)",
    )
    parser.add_argument("--keep-archives", action="store_true", help="keep the zip files")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from skinseg.data.download import DownloadError, download

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        folders = download(
            args.dataset, args.root, args.base_url, args.keep_archives, progress=not args.quiet
        )
    except DownloadError as exc:
        raise OSError(str(exc)) from exc
    for folder in folders:
        print(folder)
    return 0
