"""What the benchmarks share: a lab of their own (instance 2, or BENCH_LAB_INSTANCE), running playbooks on it and reading
what they did (profile output, the API servers' audit logs), CPU and memory of process trees, and
the ratios and verdicts of their reports."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from lab import netns

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".lab-bench"
# Two benches at once (two checkouts) need two instances: their own ports and address ranges.
LAB_ENV = {"LAB_INSTANCE": os.environ.get("BENCH_LAB_INSTANCE", "2"), "LAB_STATE_DIR": str(STATE), "LAB_INVENTORY_DIR": str(STATE / "inventory")}
RESULTS = REPO / "bench" / "results"
# ansible-playbook on the bench lab's inventory: append the playbook and its options.
PLAYBOOK = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(STATE / "inventory")]
# profile_tasks pads a task name with dashes to the width of the terminal; a long name gets one dash or none.
PROFILE_TASK_LINE = re.compile(r"^(.+?)(?: -+)? (\d+\.\d+)s$", re.M)
CHANGED = re.compile(r"changed=(\d+)")
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env={**os.environ, **LAB_ENV},
                          capture_output=True, text=True, check=check)


def lab_state() -> dict:
    return json.loads((STATE / "state.json").read_text())


def enter_lab_network() -> None:
    """Join the bench lab's network namespace (lab/netns.py), if it runs in one: the kubectl and
    ansible-playbook runs this process starts reach its clusters only from there. Call it from the
    main thread, before starting threads (samplers started earlier only read /proc)."""
    name = lab_state().get("netns")
    if name:
        netns.enter(name)


def ansible_env(callbacks: str, task_output_limit: int) -> dict:
    """The environment of a measured playbook run: the repository's ansible.cfg, no colour, the
    profile callbacks asked for."""
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_CALLBACKS_ENABLED=callbacks, PROFILE_TASKS_TASK_OUTPUT_LIMIT=str(task_output_limit))


def changed_count(output: str) -> int:
    """The changed= counts of a playbook's PLAY RECAP, summed over its hosts."""
    return sum(map(int, CHANGED.findall(output.split("PLAY RECAP")[-1])))


def audit_mark(clusters: Iterable[str]) -> dict[str, int]:
    """Where each cluster's audit log ends now: audit_events_since reads from there."""
    return {c: (STATE / c / "audit.log").stat().st_size for c in clusters}


def audit_events_since(mark: dict[str, int]) -> dict[str, list[dict]]:
    """Per cluster, the audit events logged since `mark`."""
    time.sleep(1)  # the API server writes the event after the response
    events = {}
    for cluster, offset in mark.items():
        with open(STATE / cluster / "audit.log", "rb") as log:
            log.seek(offset)
            lines = log.read().decode().splitlines()
        events[cluster] = [json.loads(line) for line in filter(None, lines)]
    return events


def cpu_children() -> float:
    """CPU seconds of this process's children that have ended (and been waited for) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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


class BackgroundSampler:
    """Calls sample() every `interval` seconds in a background thread while the `with` block runs."""

    def __init__(self, interval: float):
        self.interval, self._stop = interval, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class PeakSampler(BackgroundSampler):
    """Samples the lab's memory in the background; .peak is the highest total seen (MiB)."""

    def __init__(self, interval: float = 0.5):
        super().__init__(interval)
        self.peak = 0.0

    def sample(self) -> None:
        try:
            pids = list(lab_state()["pids"].values())
            self.peak = max(self.peak, tree_rss_mb(pids))
        except (OSError, ValueError, KeyError):
            pass


def processes(roots: list[int]) -> dict[int, tuple[str, bool]]:
    """Every process of the trees under `roots`: pid -> (its name, whether it is one of the roots)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(") ", 1)
        except (OSError, ValueError):
            continue
        pid = int(stat.parent.name)
        names[pid] = head.split(" (", 1)[1]
        children.setdefault(int(fields.split()[1]), []).append(pid)
    found, todo = {}, [pid for pid in roots if pid in names]
    while todo:
        pid = todo.pop()
        found[pid] = (names[pid], pid in roots)
        todo += children.get(pid, [])
    return found


def pss_mib(pid: int) -> float:
    """Proportional set size of a process (MiB): pages shared with others (forked Ansible workers,
    one binary run several times) counted once over all of them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace").rsplit(") ", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lab_group(name: str, _root: bool) -> str:
    """The lab's processes by what they are: the API servers, etcd, the istiods, the rest."""
    return {"kube-apiserver": "apiservers", "etcd": "etcd", "pilot-discovery": "istiods"}.get(name, "other")


def controller_group(name: str, root: bool) -> str:
    """ansible-playbook's tree: the controller (main process and its forked workers), the modules."""
    return "controller" if root or name.startswith("ansible-playboo") else "modules"


def lab_roots() -> list[int]:
    return list(lab_state()["pids"].values())


def by_group(roots: list[int], group: Callable[[str, bool], str], measure: Callable[[int], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pid, (name, root) in processes(roots).items():
        key = group(name, root)
        out[key] = out.get(key, 0.0) + measure(pid)
    return out


class MemorySampler(BackgroundSampler):
    """Samples in the background the memory (PSS, MiB) of the process trees roots() names, summed per
    group of processes; .peak holds the highest value seen per group and for their total."""

    def __init__(self, roots: Callable[[], list[int]], group: Callable[[str, bool], str], interval: float = 1.0):
        super().__init__(interval)
        self.roots, self.group = roots, group
        self.peak: dict[str, float] = {}

    def sample(self) -> None:
        try:
            now = by_group(self.roots(), self.group, pss_mib)
        except (OSError, ValueError, KeyError):
            return
        now["total"] = sum(now.values())
        for key, value in now.items():
            self.peak[key] = max(self.peak.get(key, 0.0), value)

    def rounded(self) -> dict[str, int]:
        return {key: round(value) for key, value in sorted(self.peak.items())}


def peak_memory_lines(rows: list[dict], extra: dict[str, Callable[[dict], object]] | None = None) -> list[str]:
    """The peak-memory table of a lab benchmark: per lab size and run (first, no-op), the PSS peaks of
    Ansible (controller, modules) and of the lab (API servers, etcd, istiods, rest), from
    rows[i][run]["peak_mib"]; `extra` adds columns, {header: value of a row}."""
    extra = extra or {}
    lines = ["peak memory (PSS MiB, sampled every second): Ansible = controller and forks + module processes; "
             "lab = API servers, etcd, istiods, rest",
             f"{'clusters':>8} {'run':>6} {'ansible':>8} {'controller':>10} {'modules':>8} {'lab':>6} {'apiservers':>10} "
             f"{'etcd':>6} {'istiods':>8} {'other':>6}" + "".join(f" {h:>{len(h)}}" for h in extra)]
    for row in rows:
        for run in ("first", "noop"):
            a, b = row[run]["peak_mib"]["ansible"], row[run]["peak_mib"]["lab"]
            lines.append(f"{row['clusters']:>8} {run:>6} {a.get('total', 0):>8} {a.get('controller', 0):>10} "
                         f"{a.get('modules', 0):>8} {b.get('total', 0):>6} {b.get('apiservers', 0):>10} {b.get('etcd', 0):>6} "
                         f"{b.get('istiods', 0):>8} {b.get('other', 0):>6}"
                         + "".join(f" {value(row)!s:>{len(h)}}" for h, value in extra.items()))
    return lines


def printed(lines: list[str]) -> list[str]:
    """A report's lines, printed: returned to be saved with the figures."""
    print("\n".join(lines))
    return lines


def ratio(value: float, base: float) -> float:
    return round(value / base, 2) if base else float("inf")


def meets(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def load() -> str:
    """The 1, 5 and 15 minute load averages (2 cores shared), as uptime shows them."""
    return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])


def save(name: str, report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
