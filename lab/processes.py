"""The lab's processes: starting them so that they can be stopped as a group, stopping them, and
waiting for what they serve (a port, a health check)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .config import REPO_DIR, state_dir
from .state import LabError, LabState


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class Processes:
    """Processes started by this lab, each in its own session so `down` can stop its whole group."""

    def __init__(self, state: LabState):
        self.state = state

    def start(self, key: str, argv: list[str], log_file: Path) -> int:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(REPO_DIR))  # the agent imports this package
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=state_dir(), env=env)
        self.state.record_process(key, proc.pid, argv, str(log_file))
        return proc.pid

    def stop_all(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL for what is still running after the timeout. Does not save the state."""
        for pid in self.state.pids.values():
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(p) for p in self.state.pids.values()):
            time.sleep(0.1)
        for pid in self.state.pids.values():
            if alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def check_free(host: str, port: int, what: str, udp: bool = False) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except PermissionError:
        raise LabError(f"cannot bind {host}:{port} ({what}): port 53 needs root or CAP_NET_BIND_SERVICE")
    except OSError:
        raise LabError(f"port {host}:{port} ({what}) is already in use; stop what uses it or set LAB_PORT_BASE")
    finally:
        sock.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(what: str, check, timeout: float, log_file: Path | None = None) -> None:
    """Poll check() until it is true; else fail with the last lines of the log that says why."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = ""
    if log_file and log_file.is_file():
        tail = "\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
    raise LabError(f"{what} not ready after {timeout:.0f}s{tail}")
