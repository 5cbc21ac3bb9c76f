"""Real bridge processes for tests: start `trackops-bridge ...` or gunicorn, read what they print
while they run, wait for conditions with a deadline, and stop or kill them.

Used by the lease, deploy, demo and CLI tests: the parts a deployment runs, as it runs them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bridge.store import Store
from trackops_sandbox import SandboxControl
from trackops_sandbox.options import DEMO_TOKEN, DEMO_USERNAME

T = TypeVar("T")

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
DEADLINE = 30.0


def wait_for(condition: Callable[[], T], what: str, timeout: float = DEADLINE) -> T:
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)  # the polling step of a wait with a deadline, not a race papered over


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def base_env(**values: str) -> dict[str, str]:
    """An environment with only PATH (this venv first) and `values`: nothing leaks in from the
    test run's own environment (a DATABASE_URL, a real token)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    # Unbuffered: what a child prints is read while it runs, as a host's log collector would.
    return {"PATH": path, "PYTHONUNBUFFERED": "1", **values}


class Process:
    """One child process; `lines` is everything it printed so far, stdout and stderr."""

    def __init__(self, command: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self.command = command
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def count(self, text: str) -> int:
        with self._lock:
            return sum(1 for line in self.lines if text in line)

    def wait_for_line(self, text: str, timeout: float = DEADLINE) -> str:
        def found() -> str | None:
            with self._lock:
                hit = next((line for line in self.lines if text in line), None)
            if hit is None and self.popen.poll() is not None:
                self._reader.join(timeout=5)
                raise AssertionError(
                    f"{self.command} exited before printing {text!r}:\n{self.output}"
                )
            return hit

        return wait_for(found, f"{text!r} from {self.command}", timeout)

    def kill(self) -> None:
        """SIGKILL, and reap it (a zombie still answers kill(pid, 0))."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        status = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return status

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


@contextmanager
def started(command: list[str], env: Mapping[str, str], cwd: Path) -> Iterator[Process]:
    process = Process(command, env, cwd)
    try:
        yield process
    finally:
        process.close()


def bridge(*args: str) -> list[str]:
    """The command line of `trackops-bridge args...` from this venv."""
    return [str(BIN / "trackops-bridge"), *args]


def bridge_process(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`python -m bridge args...` with the test run's environment plus `env`, output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@dataclass(frozen=True)
class Sandbox:
    """The sandbox as a process of its own (`trackops-bridge sandbox`): the test's threads
    cannot delay the clock it measures the rate limit with."""

    root_url: str
    control: SandboxControl
    username: str = DEMO_USERNAME
    token: str = DEMO_TOKEN

    @property
    def base_url(self) -> str:
        return self.root_url + "/api/v1"

    def client_env(self) -> dict[str, str]:
        """The settings that point a bridge process at this sandbox."""
        return {
            "TRACKOPS_BASE_URL": self.base_url,
            "TRACKOPS_USERNAME": self.username,
            "TRACKOPS_API_TOKEN": self.token,
        }


@contextmanager
def sandbox_process(cwd: Path, *, events: int, rate_limit: float) -> Iterator[Sandbox]:
    port = free_port()
    command = bridge("sandbox", "--port", str(port), "--events", str(events))
    command += ["--rate-limit", str(rate_limit)]
    with started(command, base_env(), cwd) as process:
        process.wait_for_line("Trackops sandbox:")
        with SandboxControl(f"http://127.0.0.1:{port}") as control:
            yield Sandbox(f"http://127.0.0.1:{port}", control)


def freeze_between_transactions(store: Store, holder: Process) -> None:
    """SIGSTOP the holder just after its lease renewal committed, while its pass waits for a
    held page: frozen with no transaction open. (Frozen inside one, it would hold the SQLite
    file's write lock for as long as it stays frozen, and every other process with it: one
    machine's processes share its fate. On PostgreSQL the server ends such a transaction after
    IDLE_TRANSACTION_LIMIT_MS.)"""
    renewed = store.read_worker_lease().renewed_at
    wait_for(lambda: store.read_worker_lease().renewed_at != renewed, "a renewal to commit")
    holder.popen.send_signal(signal.SIGSTOP)
