"""Headless Chromium over the DevTools protocol: open a page, record what it did.

Debian's ``chromium`` (``.ci/run`` installs it). The page is loaded from disk;
every request it makes, every console message and uncaught exception is
recorded, and a screenshot is taken. Also a script for the README's picture:
  python -m tests.support.browser REPORT.html OUT.png [--width 1000 --height 1400]
                                  [--scroll-to "#evaluation"]
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No background traffic of Chromium's own: the page's requests are the only ones.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--hide-scrollbars", "--mute-audio"]


@dataclass
class PageVisit:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console_errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""


def visit(path: Path, width: int = 1100, height: int = 1400, timeout: float = 60.0,
          scroll_to: str | None = None) -> PageVisit:
    """Loads ``path`` in headless Chromium; returns its requests, errors and a screenshot
    (of the top of the page, or from the element ``scroll_to`` selects)."""
    from websockets.sync.client import connect

    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="fullcycle-chromium-")
    process = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = _devtools_url(process, timeout)
        page = _page_target(url, timeout)
        result = PageVisit()
        ids = itertools.count(1)
        with connect(page, max_size=64 * 2**20, open_timeout=timeout) as ws:
            def call(method: str, **params):
                call_id = next(ids)
                ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv(timeout=timeout))
                    if message.get("id") == call_id:
                        if "error" in message:
                            raise RuntimeError(f"{method}: {message['error']}")
                        return message.get("result", {})
                    record(message)

            def record(message: dict) -> None:
                method, params = message.get("method"), message.get("params", {})
                if method == "Network.requestWillBeSent":
                    result.requests.append(params["request"]["url"])
                elif method == "Runtime.consoleAPICalled" and params["type"] in ("error",
                                                                                   "assert"):
                    result.console_errors.append(json.dumps(params["args"]))
                elif method == "Runtime.exceptionThrown":
                    details = params["exceptionDetails"]
                    result.console_errors.append(
                        details.get("exception", {}).get("description", details["text"]))
                elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                    result.console_errors.append(params["entry"]["text"])

            for domain in ("Network", "Runtime", "Log", "Page"):
                call(f"{domain}.enable")
            call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                 deviceScaleFactor=1, mobile=False)
            call("Page.navigate", url=path.resolve().as_uri())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = json.loads(ws.recv(timeout=timeout))
                record(message)
                if message.get("method") == "Page.loadEventFired":
                    break
            else:
                raise TimeoutError(f"{path} did not load in {timeout} s")
            if scroll_to:
                call("Runtime.evaluate", expression=(
                    f"document.querySelector({json.dumps(scroll_to)}).scrollIntoView()"))
            shot = call("Page.captureScreenshot", format="png")
            result.screenshot = base64.b64decode(shot["data"])
        return result
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_url(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if m := re.search(r"DevTools listening on (ws://\S+)", line):
            return m.group(1)
    raise RuntimeError("chromium did not start its DevTools endpoint:\n" + "".join(seen[-20:]))


def _page_target(browser_url: str, timeout: float) -> str:
    import urllib.request

    port = re.search(r":(\d+)/", browser_url).group(1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("chromium opened no page")


def pixel_spread(png: bytes) -> float:
    """Standard deviation of the screenshot's pixel values: about 0 for a blank page."""
    import tensorflow as tf

    return float(tf.math.reduce_std(tf.cast(tf.io.decode_png(png), tf.float32)))


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=1400)
    parser.add_argument("--scroll-to", help="A CSS selector to start the picture at.")
    args = parser.parse_args()
    result = visit(args.page, args.width, args.height, scroll_to=args.scroll_to)
    if result.console_errors or [u for u in result.requests if not u.startswith("file:")]:
        sys.exit(f"the page made requests or errors: {result}")
    args.out.write_bytes(result.screenshot)
    print(f"wrote {args.out} ({len(result.screenshot)} bytes)")


if __name__ == "__main__":
    main()
