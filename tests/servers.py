"""Servers the tests run on 127.0.0.1 (moto, OpenBao, the test Key Vault), all started and stopped one way.

``LocalServer`` is what they share: a free port of this worker's range
(tests/ports.py), a directory for their files, ``start`` that waits until the
server answers (and says why when it does not, with the end of its log),
``stop`` that ends it and ``restart`` on the same port, as the outage tests need.
``ProcessServer`` runs one in a subprocess, which can also be frozen (SIGSTOP)
to play an endpoint that accepts connections and never answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests import ports


class LocalServer:
    """One server on 127.0.0.1; subclasses say how to launch it, when it is ready and how to halt it."""

    name = "server"
    scheme = "http"

    def __init__(self, directory: Path, *, port: int | None = None, with_next_port: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or ports.free_port(with_next=with_next_port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    def start(self, timeout: float = 60.0):
        """Launch and wait until it answers; on failure it is stopped and the error shows its log."""
        self._launch()
        deadline = time.monotonic() + timeout
        while not self.ready():
            problem = self.failure()
            if problem is None and time.monotonic() > deadline:
                problem = f"no answer within {timeout:.0f} s"
            if problem is not None:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on {self.url}: {problem}\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._halt()

    def restart(self) -> None:
        """The same port (and whatever state the server keeps outside its process)."""
        self.stop()
        self.start()

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what a server is -----------------------------------------------------

    def _launch(self) -> None:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def failure(self) -> str | None:
        """Why the server can no longer come up (it exited…), or None while it may."""
        return None

    def _halt(self) -> None:
        raise NotImplementedError


class ProcessServer(LocalServer):
    """A server in a subprocess, its output in ``log_path``."""

    def __init__(self, directory: Path, **kwargs):
        super().__init__(directory, **kwargs)
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None  # the tests' environment

    def _launch(self) -> None:
        with open(self.log_path, "ab") as log:  # the process keeps its own descriptor
            self.proc = subprocess.Popen(self.argv(), env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

    def failure(self) -> str | None:
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"it exited with {self.proc.returncode}"

    def _halt(self) -> None:
        if self.proc is None:
            return
        self.resume()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, but nothing answers (a hung endpoint).

        Returns once every thread of the server has stopped: the signal is delivered
        asynchronously, and a Go server's threads can answer one more request meanwhile.
        """
        os.kill(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = []
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
            if states and all(state in ("T", "t") for state in states):
                time.sleep(0.05)  # and let anything the kernel had in flight settle
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.name} (process {self.proc.pid}) did not stop")

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
