"""A real headless browser for tests of skinseg's pages: Debian's chromium driven by playwright.

Tests that use the ``page`` fixture skip, with the reason, where playwright or chromium is not
installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager

import pytest

# What the machine's closed network needs: no background connections, no first-run dialogs.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("SKINSEG_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on PATH (apt install chromium; .ci/run does)")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh page; ``page.errors`` collects console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    context.close()


@contextmanager
def running_server(app):
    """Serve an ASGI app with uvicorn on a free port of 127.0.0.1, in a thread; yields its
    base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def serve_process(checkpoint, timeout: float = 180):
    """``skinseg serve`` in its own process on a free port of 127.0.0.1, on the CPU; yields
    ``(base URL, process)`` once ``/health`` answers, and stops it afterwards.

    Raises:
        RuntimeError: it exited or did not answer within ``timeout`` seconds (its output named).
    """
    import subprocess
    import sys
    import tempfile

    import httpx

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "skinseg.cli.main", "serve", "--checkpoint", str(checkpoint)]
    # Output to a file, not a pipe: a full pipe would block the server under load.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [*command, "--port", str(port), "--device", "cpu"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    httpx.get(f"{url}/health", timeout=2).raise_for_status()
                    break
                except httpx.HTTPError as exc:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        proc.kill()
                        log.seek(0)
                        raise RuntimeError(f"skinseg serve did not start:\n{log.read()}") from exc
                    time.sleep(0.5)
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(30)
