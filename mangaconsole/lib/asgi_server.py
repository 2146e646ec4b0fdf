"""Start the ASGI app under daphne on a free local port (benchmarks and browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daphne_start(*, env: dict[str, str], log: Path, timeout: float = 90) -> tuple[subprocess.Popen, int]:
    """Run ``daphne mangaconsole.asgi:application`` with ``env`` (over this process's environment)
    and wait until it accepts connections. Raises RuntimeError with the log's tail if it dies."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mangaconsole.asgi:application"],
            cwd=settings.BASE_DIR,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited with {proc.returncode}: {log.read_text()[-3000:]}")
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"daphne did not accept connections within {timeout:.0f} s")
