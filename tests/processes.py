"""Atelier as a real separate process: `python -m server run` on a free port.

Used by the browser tests and the scale-out tests, which need what a user runs — the
CLI, migrations, uvicorn — not an app object inside the test's event loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """One ``atelier run`` process with its own environment; a context manager."""

    def __init__(
        self,
        database_url: str,
        *,
        redis_url: str = "",
        broker_prefix: str = "",
        demo: bool = True,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "warning",
            **({"BROKER_PREFIX": broker_prefix} if broker_prefix else {}),
            **(extra_env or {}),
        }
        self.demo = demo
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        args = [sys.executable, "-m", "server", "run", "--port", str(self.port)]
        if self.demo:
            args.append("--demo")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            if self.log_path:
                log.close()  # type: ignore[union-attr]  # the child has its own descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"atelier exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"atelier did not answer on {self.base_url} within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def login_cookie(base_url: str, email: str, password: str = "atelier-demo") -> str:  # noqa: S107
    """Sign in through the real form and return the session cookie value."""
    with httpx.Client(base_url=base_url, follow_redirects=False) as client:
        client.get("/connexion")  # hands out the CSRF token the form carries
        token = client.cookies["atelier_csrf"]
        response = client.post(
            "/connexion", data={"email": email, "password": password, "csrf": token}
        )
        assert response.status_code == 303, response.text
        return response.cookies["atelier_session"]
