"""ASGI apps served by uvicorn on a free loopback port, shut down at the end of the session."""

import socket
import threading
import time

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVED: list[tuple[uvicorn.Server, threading.Thread]] = []


def serve(app, health: str = "/healthz") -> tuple[str, uvicorn.Server]:
    """Serves ``app`` on a free loopback port; stop it with ``server.should_exit = True``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    SERVED.append((server, thread))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}{health}").status_code == 200:
                return url, server
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server for {app!r} did not start")


def shut_down_all(timeout: float = 30) -> None:
    """Asks every served app to exit and waits for each to finish closing what it holds."""
    for server, _ in SERVED:
        server.should_exit = True
    for _, thread in SERVED:
        thread.join(timeout=timeout)
