"""What the benchmarks share: a lab of their own (instance 2) and process memory sampling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".lab-bench"
LAB_ENV = {"LAB_INSTANCE": "2", "LAB_STATE_DIR": str(STATE), "LAB_INVENTORY_DIR": str(STATE / "inventory")}
RESULTS = REPO / "bench" / "results"


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env={**os.environ, **LAB_ENV},
                          capture_output=True, text=True, check=check)


def lab_state() -> dict:
    return json.loads((STATE / "state.json").read_text())


def tree_rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes and all their descendants, in MiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, list(pids)
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total / 2**20


class PeakSampler:
    """Samples the lab's memory in the background; .peak is the highest total seen (MiB)."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak, self._stop = interval, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pids = list(lab_state()["pids"].values())
                self.peak = max(self.peak, tree_rss_mb(pids))
            except (OSError, ValueError, KeyError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def save(name: str, report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
