"""Podman for the image tests: the project's wrapper (``runner_image/local/podman``), free
ports and containers that are removed however a test ends."""

import contextlib
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PODMAN = str(ROOT / "runner_image" / "local" / "podman")
NON_ROOT_UID = 10001


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ``podman ARGS`` with the project's containers.conf and store; output as text."""
    result = subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} … exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def container(image: str, *args: str, options: tuple[str, ...] = ()) -> Iterator[str]:
    """A detached container of IMAGE (``podman run -d OPTIONS IMAGE ARGS``); yields its name
    and removes it on the way out."""
    name = f"fullcycle-test-{uuid.uuid4().hex[:10]}"
    podman("run", "-d", "--name", name, *options, image, *args)
    try:
        yield name
    finally:
        podman("rm", "-f", "-t", "2", name, check=False)


def wait_for_port(port: int, timeout: float, context: Callable[[], str] = str) -> None:
    """Returns once something listens on localhost:PORT; after TIMEOUT seconds fails with
    what CONTEXT() says (a container's log)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listens on port {port} after {timeout} s:\n"
                                 f"{context()[-4000:]}")
        time.sleep(1)


def logs(name: str) -> str:
    result = podman("logs", name, check=False)
    return result.stdout + result.stderr


def wait_for_log(name: str, text: str, timeout: float) -> str:
    """The container's log once it contains TEXT; fails with the log after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        output = logs(name)
        if text in output:
            return output
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the log of {name} after {timeout} s:\n"
                                 f"{output[-4000:]}")
        time.sleep(1)
