"""bench/site: site.yml on a fresh lab of 1, 2, 3 and 6 clusters: first run, no-op run, time per step,
where the time goes, and the peak memory of the controller and of the lab.

Baselines (same run): the 1-cluster lab, and for the larger fleets of issue 15 the 3-cluster lab.
Goals: the no-op run reports changed=0 and takes under 45 s for 3 clusters; clusters are worked on
in parallel, so 3 clusters take well under 3x one; the no-op run of 6 clusters within 1.5x of 3
clusters (issue 15), still without a write request (the API servers' audit logs).
Memory is the peak PSS, sampled every second, of ansible-playbook's process tree (the controller
and its forks; the module processes) and of the lab (API servers, etcd, istiods, the rest); CPU
seconds of both from /proc, as the machine is shared and wall times are noisy.
SITE_BENCH_SIZES=3,6 picks the lab sizes (the first one is the baseline); --report prints the last
run's report again from bench/results/.

Per cluster, the no-op run reports the CPU seconds of Ansible (controller, forks and module processes)
and how many module processes it started: each run keeps its AnsiballZ files (ANSIBLE_KEEP_REMOTE_FILES,
in bench/results/site/remote-tmp-<label>), one per module process; a module that ran inside Ansible's
worker process (plugin_utils/in_worker.py) leaves none. SITE_BENCH_BASELINE=<checkout> (another worktree,
e.g. main's) measures that checkout's site.yml on the same lab, after the first run: its no-op run and
this checkout's alternate (SITE_BENCH_REPEATS times, default 1), and the report prints this
checkout's CPU per cluster against the baseline's (issue 26: at most half). One more no-op run of this
checkout uses Mitogen for Ansible's strategy (mitogen_linear, when installed: requirements-dev.txt),
which runs the modules in interpreters it keeps instead of one new interpreter per task.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .common import (PLAYBOOK, PROFILE_TASK_LINE, REPO, RESULTS, WRITE_VERBS, MemorySampler, ansible_env, audit_events_since,
                     audit_mark, by_group, changed_count, controller_group, cpu_children, cpu_seconds, enter_lab_network,
                     lab, lab_group, lab_roots, lab_state, load, meets, peak_memory_lines, printed, ratio, save)

SIZES = tuple(int(n) for n in os.environ.get("SITE_BENCH_SIZES", "1,2,3,6").split(","))
BASELINE = Path(os.environ["SITE_BENCH_BASELINE"]).resolve() if os.environ.get("SITE_BENCH_BASELINE") else None
REPEATS = int(os.environ.get("SITE_BENCH_REPEATS", "1"))
MODULE_NAME = re.compile(r"^AnsiballZ_(.+)\.py$")
ROLE_LINE = re.compile(r"^(\S+) -+ (\d+\.\d+)s$", re.M)
TOP_TASKS = 6


def recap(output: str, banner: str) -> str:
    """The lines a profile callback printed under its banner (up to the next banner)."""
    part = output.split(banner, 1)[-1] if banner in output else ""
    return re.split(r"^[A-Z ]+ \*{3,}$", part, maxsplit=1, flags=re.M)[0] if part else ""


def per_role(output: str) -> dict[str, float]:
    times: dict[str, float] = {}
    for role, seconds in ROLE_LINE.findall(recap(output, "ROLES RECAP")):
        times[role.rsplit(".", 1)[-1]] = times.get(role.rsplit(".", 1)[-1], 0) + float(seconds)
    return times


def top_tasks(output: str) -> dict[str, float]:
    tasks = sorted(((name.split(" : ", 1)[-1].strip(), float(s)) for name, s in PROFILE_TASK_LINE.findall(recap(output, "TASKS RECAP"))),
                   key=lambda item: -item[1])
    return dict(tasks[:TOP_TASKS])


def writes_since(mark: dict[str, int]) -> dict[str, int]:
    """Write requests per user agent (its first word) in every cluster's audit log since `mark`."""
    writes: dict[str, int] = {}
    for events in audit_events_since(mark).values():
        for event in events:
            if event.get("verb") in WRITE_VERBS:
                agent = (event.get("userAgent") or "?").split("/", 1)[0].split(" ", 1)[0]
                writes[agent] = writes.get(agent, 0) + 1
    return writes


def kept_module_files(label: str) -> Path:
    """An empty folder for the AnsiballZ files of one run's module processes."""
    folder = RESULTS / "site" / f"remote-tmp-{label}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def module_runs(folder: Path) -> dict:
    """Per module: how many processes ran it (the AnsiballZ files they left)."""
    runs: dict[str, dict] = {}
    for script in folder.rglob("AnsiballZ_*.py"):
        entry = runs.setdefault(MODULE_NAME.sub(r"\1", script.name), {"processes": 0})
        entry["processes"] += 1
    return dict(sorted(runs.items(), key=lambda item: -item[1]["processes"]))


def mitogen_strategies() -> Path | None:
    """Mitogen for Ansible's strategy plugins (requirements-dev.txt), if installed."""
    spec = importlib.util.find_spec("ansible_mitogen")
    return Path(spec.origin).parent / "plugins" / "strategy" if spec and spec.origin else None


def site(label: str, checkout: Path = REPO, mitogen: bool = False) -> dict:
    """site.yml of `checkout` (this one, or the baseline's) once: wall time, changed, role and task times,
    write requests, memory and CPU, module processes. mitogen: with Mitogen's mitogen_linear strategy,
    whose interpreters stay up and run many modules (not counted one by one)."""
    (RESULTS / "site").mkdir(parents=True, exist_ok=True)
    env = ansible_env("ansible.posix.profile_roles,ansible.posix.profile_tasks", 40)
    env["ANSIBLE_CONFIG"] = str(checkout / "ansible.cfg")
    module_files = kept_module_files(label)
    env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(module_files))
    if mitogen:
        env.update(ANSIBLE_STRATEGY_PLUGINS=str(mitogen_strategies()), ANSIBLE_STRATEGY="mitogen_linear")
    mark = audit_mark(c["name"] for c in lab_state()["clusters_info"])
    lab_cpu, cpu = by_group(lab_roots(), lab_group, cpu_seconds), cpu_children()
    started = time.monotonic()
    with open(RESULTS / "site" / f"{label}.log", "w+", encoding="utf-8") as out:  # kept for a look after the run
        proc = subprocess.Popen([*PLAYBOOK, str(checkout / "playbooks" / "site.yml")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=checkout)
        with MemorySampler(lambda: [proc.pid], controller_group) as controller, \
                MemorySampler(lab_roots, lab_group) as lab_memory:
            proc.wait()
        elapsed = time.monotonic() - started
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"site.yml ({label}) failed:\n{output[-3000:]}")
    lab_after = by_group(lab_roots(), lab_group, cpu_seconds)
    modules = module_runs(module_files)
    shutil.rmtree(module_files)
    return {"seconds": round(elapsed, 1), "load": load(), "checkout": str(checkout),
            "module_processes": sum(m["processes"] for m in modules.values()), "modules": modules,
            "changed": changed_count(output),
            "writes": writes_since(mark), "seconds_per_role": per_role(output), "top_tasks": top_tasks(output),
            "cpu_s": {"ansible": round(cpu_children() - cpu, 1),
                      **{k: round(v - lab_cpu.get(k, 0), 1) for k, v in sorted(lab_after.items())}},
            "peak_mib": {"ansible": controller.rounded(), "lab": lab_memory.rounded()}}


def measure(clusters: int) -> dict:
    lab("down", check=False)
    started = time.monotonic()
    lab("up", "--clusters", str(clusters))
    up = time.monotonic() - started
    enter_lab_network()
    try:
        first = site(f"first-{clusters}")
        baseline, noops = [], []
        for i in range(REPEATS if BASELINE else 1):
            if BASELINE:  # the baseline first: both no-op runs then follow a no-op run
                baseline.append(site(f"baseline-noop-{clusters}-{i + 1}", BASELINE))
            noops.append(site(f"noop-{clusters}" + (f"-{i + 1}" if i else "")))
        noop = min(noops, key=lambda run: run["cpu_s"]["ansible"])
        with_mitogen = site(f"mitogen-noop-{clusters}", mitogen=True) if mitogen_strategies() else None
    finally:
        lab("down", check=False)
    print(f"  {clusters} clusters: lab up {up:.0f} s, first {first['seconds']} s, no-op {noop['seconds']} s "
          f"(changed={noop['changed']}, writes {noop['writes'] or 0}); load {load()}", flush=True)
    row = {"clusters": clusters, "lab_up_s": round(up, 1), "first_run_s": first["seconds"], "noop_run_s": noop["seconds"],
           "noop_changed": noop["changed"], "noop_seconds_per_role": noop["seconds_per_role"], "first": first, "noop": noop,
           "noop_runs": noops}
    if with_mitogen:
        row["mitogen_noop"] = with_mitogen
    if baseline:
        row["baseline_noop"] = min(baseline, key=lambda run: run["cpu_s"]["ansible"])
        row["baseline_noop_runs"] = baseline
    return row


def per_cluster(run: dict, clusters: int) -> tuple[float, float]:
    """CPU seconds of Ansible (controller, forks and modules) and module processes, per cluster."""
    return run["cpu_s"]["ansible"] / clusters, run.get("module_processes", 0) / clusters


def noop_cost_lines(rows: list[dict]) -> list[str]:
    """The no-op run's cost per cluster (issue 26), against the baseline checkout's when it ran."""
    against = "; against the baseline checkout on the same lab (best of each)" if any("baseline_noop" in r for r in rows) else ""
    lines = ["no-op run per cluster: CPU seconds of Ansible (controller, forks and modules), module processes" + against]
    for row in rows:
        n = row["clusters"]
        cpu, procs = per_cluster(row["noop"], n)
        line = f"  {n} cl: CPU {cpu:.2f} s, {procs:.1f} module processes"
        if "baseline_noop" in row:
            b_cpu, b_procs = per_cluster(row["baseline_noop"], n)
            line += (f"; baseline CPU {b_cpu:.2f} s, {b_procs:.1f} module processes, "
                     f"changed={row['baseline_noop']['changed']} -> {ratio(cpu, b_cpu)}x CPU, {ratio(procs, b_procs)}x processes "
                     f"(goal <= 0.5x CPU: {meets(cpu <= 0.5 * b_cpu)})")
        lines.append(line)
        tops = ", ".join(f"{name} {m['processes'] / n:g}" for name, m in list(row["noop"].get("modules", {}).items())[:8])
        lines.append(f"  {'':>5} modules per cluster: {tops}")
        if "mitogen_noop" in row:
            m_cpu = per_cluster(row["mitogen_noop"], n)[0]
            lines.append(f"  {'':>5} with Mitogen (strategy mitogen_linear, modules in interpreters it keeps): CPU {m_cpu:.2f} s, "
                         f"changed={row['mitogen_noop']['changed']} -> {ratio(m_cpu, cpu)}x this checkout's, "
                         + (f"{ratio(m_cpu, per_cluster(row['baseline_noop'], n)[0])}x the baseline's" if "baseline_noop" in row
                            else "no baseline"))
        if "baseline_noop" in row:
            tops = ", ".join(f"{name} {m['processes'] / n:g}" for name, m in list(row["baseline_noop"].get("modules", {}).items())[:8])
            lines.append(f"  {'':>5} baseline's: {tops}")
    return lines


def steps(seconds: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in seconds.items() if k != "total")


def report(rows: list[dict]) -> list[str]:
    out: list[str] = []
    p = out.append
    one = rows[0]
    p(f"{'clusters':>8} {'first run (s)':>14} {'x ' + str(one['clusters']) + ' cl':>8} {'no-op (s)':>10} "
      f"{'x ' + str(one['clusters']) + ' cl':>8} {'+s/cluster':>10} {'no-op changed':>14} {'no-op writes':>12} {'lab up (s)':>10}")
    for i, row in enumerate(rows):
        row["first_vs_1"] = ratio(row["first_run_s"], one["first_run_s"])
        row["noop_vs_1"] = ratio(row["noop_run_s"], one["noop_run_s"])
        growth = "" if i == 0 else round((row["noop_run_s"] - rows[i - 1]["noop_run_s"])
                                         / (row["clusters"] - rows[i - 1]["clusters"]), 1)
        p(f"{row['clusters']:>8} {row['first_run_s']:>14} {row['first_vs_1']:>7}x {row['noop_run_s']:>10} "
          f"{row['noop_vs_1']:>7}x {growth:>10} {row['noop_changed']:>14} {sum(row['noop']['writes'].values()):>12} "
          f"{row['lab_up_s']:>10}")
    p("")
    p("where the time goes (seconds per step; the slowest tasks; CPU seconds of Ansible and its modules and of the lab):")
    for row in rows:
        for run in ("first", "noop"):
            r = row[run]
            p(f"  {row['clusters']} cl {run:>5}: {steps(r['seconds_per_role'])}")
            p(f"  {'':>11} tasks: " + ", ".join(f"{k[:48]} {v:.1f}" for k, v in r["top_tasks"].items()))
            p(f"  {'':>11} CPU: " + ", ".join(f"{k} {v}" for k, v in r["cpu_s"].items()) + f"; load {r['load']}")
    p("")
    out.extend(noop_cost_lines(rows))
    p("")
    out.extend(peak_memory_lines(rows))
    p("")
    three = next((r for r in rows if r["clusters"] == 3), None)
    if three:
        p(f"goal: no-op changed=0 and < 45 s for 3 clusters -> changed={three['noop_changed']}, {three['noop_run_s']} s "
          f"({meets(three['noop_changed'] == 0 and three['noop_run_s'] < 45)})")
    six = next((r for r in rows if r["clusters"] == 6), None)
    if three and six:
        writes = sum(six["noop"]["writes"].values())
        p(f"goal: no-op of 6 clusters within 1.5x of 3 clusters -> {six['noop_run_s']} / {three['noop_run_s']} s = "
          f"{ratio(six['noop_run_s'], three['noop_run_s'])}x ({meets(six['noop_run_s'] <= 1.5 * three['noop_run_s'])}); "
          f"changed={six['noop_changed']}, write requests {writes} ({meets(six['noop_changed'] == 0 and writes == 0)})")
        ansible = {r["clusters"]: r["noop"]["cpu_s"]["ansible"] / r["clusters"] for r in (three, six)}
        # The lab burns CPU while it idles (API servers, controllers, kwok): per cluster and second of the run.
        lab_rate = {r["clusters"]: sum(v for k, v in r["noop"]["cpu_s"].items() if k != "ansible") / r["clusters"] / r["noop_run_s"]
                    for r in (three, six)}
        busy = {r["clusters"]: sum(r["noop"]["cpu_s"].values()) / r["noop_run_s"] for r in (three, six)}
        p(f"      CPU seconds of the no-op run per cluster, Ansible (controller and modules): {ansible[3]:.1f} at 3 clusters, "
          f"{ansible[6]:.1f} at 6 ({ratio(ansible[6], ansible[3])}x); the lab per cluster and second of the run: "
          f"{lab_rate[3]:.3f}, {lab_rate[6]:.3f} ({ratio(lab_rate[6], lab_rate[3])}x); cores busy on average (of 2): "
          f"{busy[3]:.2f}, {busy[6]:.2f}; load {three['noop']['load']} / {six['noop']['load']}")
    return printed(out)


def reprint() -> None:
    """--report: print the last run's report again from bench/results/site.json, the slowest tasks
    taken again from the runs' logs (bench/results/site/)."""
    rows = json.loads((RESULTS / "site.json").read_text(encoding="utf-8"))["rows"]
    for row in rows:
        for run in ("first", "noop"):
            log = RESULTS / "site" / f"{run}-{row['clusters']}.log"
            if log.is_file():
                row[run]["top_tasks"] = top_tasks(log.read_text(encoding="utf-8"))
    report(rows)


def main() -> None:
    if "--report" in sys.argv[1:]:
        reprint()
        return
    lab("build")
    print(f"load at start: {load()}", flush=True)
    rows = [measure(n) for n in SIZES]
    summary = report(rows)
    print(f"load at end: {load()}")
    save("site", {"baseline": f"{SIZES[0]}-cluster lab (and the 3-cluster lab for 6 clusters)"
                  + (f"; no-op runs of {BASELINE} on the same lab" if BASELINE else ""), "rows": rows,
                  "summary": summary})


if __name__ == "__main__":
    main()
