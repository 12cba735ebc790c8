"""bench/service_entries (issues 6 and 15): services.yml on C lab clusters x N exported Services each.

Every cluster ends with C x N ServiceEntries (N local, (C - 1) x N imported) and a DestinationRule
beside each (2 x C x N objects per cluster). Measured in one run on
the bench lab (instance 2), against baselines run on the same lab and the same rendered objects:
  (a) a loop of kubernetes.core.k8s tasks (server-side apply), one module run per object, on a
      slice of 100 objects in a scratch namespace: goal ours >= 30x its per-object rate;
  (b) `kubectl apply --server-side -f <one file per cluster>` of the same 2 x C x N objects per
      cluster into a scratch namespace, the C clusters in parallel as Ansible's forks do:
      goal first run <= 1.5x (b), no-op run faster than (b)'s re-apply.
Issue 15, the fleet beyond three clusters: the same step on a lab of each size in SE_BENCH_CLUSTERS
(default 3,6; the lab has at most 6). The 3-cluster lab gets the whole protocol above (sizes 50, 100
and 200 interleaved, baselines (a) and (b), one Service changed; SE_BENCH_FULL=0 skips it); the
other sizes 200 Services per cluster only (SE_BENCH_REPEATS first and no-op runs, default 2;
kubectl (b) in the first), and one Service changed. Baseline (same run): the 3-cluster lab. Goals at 6 clusters x 200 Services
(1,200 ServiceEntries per cluster): the step's per-object rate (objects written over the fleet per
second of the whole step) within 1.2x of 3 clusters; a no-op run still makes no write request and
one list per kind per cluster.
Requests come from the API servers' audit logs (user agent meshops.multicluster); the module's
own time, CPU and peak memory per cluster from /usr/bin/time around each module process (the play
runs with an interpreter wrapper); CPU of the API servers, etcd and istiods from /proc, as the
machine is shared and wall times are noisy; peak memory (PSS, sampled every second) of Ansible's
process tree and of the lab. SE_BENCH_REUSE=1 reuses (and keeps) a running bench lab of the size;
--report prints the last run's report again from bench/results/service_entries.json.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from lab.config import collection_on_path

from .common import (REPO, RESULTS, STATE, MemorySampler, by_group, controller_group, cpu_seconds, lab, lab_group, lab_roots,
                     lab_state, load, peak_memory_lines, save)

collection_on_path()
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeClient  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (  # noqa: E402
    render_destination_rules, render_entries)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import plan_fleet as plan  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL, select_exports  # noqa: E402

CLUSTER_COUNTS = tuple(int(n) for n in os.environ.get("SE_BENCH_CLUSTERS", "3,6").split(","))
BASELINE = 3                    # the lab size the others are compared with (when measured in the run)
FULL = int(os.environ.get("SE_BENCH_FULL", "3"))  # the lab size that gets the whole protocol of issue 6 (0: none)
CLUSTERS: tuple[str, ...] = ()  # the running lab's clusters, set per lab size
SIZES = (50, 100, 200)          # exported Services per cluster; the last is the main measurement
REPEATS = {50: 2, 100: 2, 200: 3}  # clean fleet, first run, no-op run (and kubectl at the main size)
OTHER_REPEATS = int(os.environ.get("SE_BENCH_REPEATS", "2"))  # at the main size, on the other lab sizes
NAMESPACES = 4                  # per cluster, the benchmark's own: sebench-c<i>-<k>
OWNER_LABEL = "bench.meshops.io/owner"
SLICE = 100                     # objects written by baseline (a)
SCRATCH_KUBECTL, SCRATCH_K8S = "sebench-kubectl", "sebench-k8s"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
UA = "meshops.multicluster"
WORK = STATE / "service-entries"
KUBECONFIG = STATE / "kubeconfig"
PLAYBOOK = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(STATE / "inventory")]
# profile_tasks pads a task name with dashes to the width of the terminal; a long name gets one dash or none.
PROFILE_LINE = re.compile(r"^(.+?)(?: -+)? (\d+\.\d+)s$", re.M)
CHANGED = re.compile(r"changed=(\d+)")
KUBECTL = ""  # set by main()


def kubectl_bin() -> str:
    from lab.build import ensure_binaries
    return str(ensure_binaries()["kubectl"])


def kubectl(cluster: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [KUBECTL, "--kubeconfig", str(KUBECONFIG), "--context", cluster, "--cache-dir", str(WORK / "kube-cache"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode:
        raise SystemExit(f"{' '.join(cmd[5:])} on {cluster} failed: {proc.stderr[-2000:]}")
    return proc


def parallel(fn, items) -> tuple[float, dict]:
    """fn(item) for every item in its own thread: (wall seconds, {item: (seconds, result)})."""
    out: dict = {}

    def one(item):
        started = time.monotonic()
        result = fn(item)
        out[item] = (time.monotonic() - started, result)

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, out


def write_file(name: str, docs: list[dict]) -> Path:
    path = WORK / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


# --- the fleet ---------------------------------------------------------------------------------

def ensure_lab() -> None:
    if os.environ.get("SE_BENCH_REUSE") == "1" and lab("status", check=False).returncode == 0 \
            and len(lab_state()["clusters"]) == len(CLUSTERS):
        return
    lab("down", check=False)
    lab("up", "--clusters", str(len(CLUSTERS)))
    proc = subprocess.run([*PLAYBOOK, str(REPO / "playbooks" / "control_plane.yml")], env=ansible_env(),
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"control_plane.yml failed:\n{proc.stdout[-3000:]}")


def service_docs(index: int, count: int) -> list[dict]:
    """The cluster's own namespaces and `count` exported Services, each with two named ports."""
    namespaces = [f"sebench-c{index}-{k}" for k in range(NAMESPACES)]
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {OWNER_LABEL: "service-entries"}}}
            for ns in namespaces]
    docs += [{"apiVersion": "v1", "kind": "Service",
              "metadata": {"name": f"svc-{j:03d}", "namespace": namespaces[j % NAMESPACES], "labels": {EXPORT_LABEL: "true"}},
              "spec": {"selector": {"app": f"svc-{j:03d}"},
                       "ports": [{"name": "http", "port": 8000}, {"name": "grpc", "port": 9000}]}}
             for j in range(count)]
    return docs


def create_services(count: int) -> float:
    files = {c: write_file(f"services-{c}.yaml", service_docs(i, count)) for i, c in enumerate(CLUSTERS, 1)}
    seconds, _ = parallel(lambda c: kubectl(c, "apply", "--server-side", "-f", str(files[c])), CLUSTERS)
    return seconds


def clean() -> None:
    """Delete the Services, every ServiceEntry (with their namespaces), the VIP store and records."""
    def one(cluster):
        kubectl(cluster, "delete", "namespace", "--wait=true", "--ignore-not-found", "-l", OWNER_LABEL)
        kubectl(cluster, "delete", "namespace", "--wait=true", "--ignore-not-found",
                "-l", "multicluster.meshops.io/component=services")
        kubectl(cluster, "-n", "istio-system", "delete", "configmap", "--ignore-not-found", "meshops-vips",
                "istiocoredns-records")
        left = kubectl(cluster, "get", "serviceentries,destinationrules", "-A", "-o", "name").stdout.split()
        if left:
            raise SystemExit(f"{cluster} still holds {len(left)} ServiceEntries and DestinationRules after cleaning")
    parallel(one, CLUSTERS)


def rendered_entries() -> dict[str, list[dict]]:
    """The desired ServiceEntries and DestinationRules per cluster, as service_entry renders them
    from the plan (fresh VIPs)."""
    localities = {c["name"]: c["locality"] for c in lab_state()["clusters_info"]}
    clusters = []
    for name in CLUSTERS:
        client = KubeClient({"kubeconfig": str(KUBECONFIG), "context": name})
        exports, _ = select_exports(client.list("Service", label_selector=f"{EXPORT_LABEL}=true"))
        address, port, _ = gateway_address(client.get("Service", "istio-eastwestgateway", "istio-system"))
        clusters.append({"name": name, "exports": exports, "gateway_address": address, "gateway_port": port,
                         "locality": localities[name]})
    fleet_plan = plan(clusters)
    return {name: render_entries(fleet_plan, name) + render_destination_rules(fleet_plan, name)
            for name in fleet_plan["gateways"]}


# --- audit log ---------------------------------------------------------------------------------

def audit_mark() -> dict[str, int]:
    return {c: (STATE / c / "audit.log").stat().st_size for c in CLUSTERS}


def audit_since(mark: dict[str, int], user_agent: str = UA) -> dict[str, list[dict]]:
    time.sleep(1)  # the API server writes the event after the response
    events = {}
    for cluster, offset in mark.items():
        with open(STATE / cluster / "audit.log", "rb") as log:
            log.seek(offset)
            lines = log.read().decode().splitlines()
        events[cluster] = [e for e in map(json.loads, filter(None, lines))
                           if e.get("userAgent", "").startswith(user_agent)]
    return events


def request_counts(events: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, int]]]:
    """Per cluster: writes and reads by '<verb> <resource>'."""
    out = {}
    for cluster, items in events.items():
        key = lambda e: f"{e['verb']} {e.get('objectRef', {}).get('resource', '?')}"  # noqa: E731
        out[cluster] = {"writes": dict(Counter(key(e) for e in items if e["verb"] in WRITE_VERBS)),
                        "reads": dict(Counter(key(e) for e in items if e["verb"] not in WRITE_VERBS))}
    return out


def total(counts: dict, kind: str, resources: tuple[str, ...] = ("serviceentries", "destinationrules")) -> int:
    return sum(n for c in counts.values() for k, n in c[kind].items()
               if not resources or k.split(" ", 1)[1] in resources)


# --- our step ----------------------------------------------------------------------------------

def ansible_env(**extra: str) -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="100", **extra)


def interpreter_wrapper() -> Path:
    """A Python interpreter for the modules that logs, per module process, its module name, its
    kubeconfig context, elapsed seconds, peak RSS (KiB) and CPU seconds via /usr/bin/time."""
    path = WORK / "python-timed"
    path.write_text(f"""#!/bin/sh
module=$(basename "${{1:-stdin}}" .py)
ctx=$(grep -o -m1 'context": "[^"]*"' "$1" 2>/dev/null | head -1 | cut -d'"' -f3)
exec /usr/bin/time -a -o {WORK / 'modules.log'} -f "$module ${{ctx:--}} %e %M %U %S" {sys.executable} "$@"
""")
    path.chmod(0o755)
    return path


def services_run(label: str) -> dict:
    """services.yml once: wall time, task times, per-module time and memory, API requests."""
    (WORK / "modules.log").unlink(missing_ok=True)
    mark = audit_mark()
    cpu_before, server_before, lab_before = cpu_children(), server_cpu(), by_group(lab_roots(), lab_group, cpu_seconds)
    started = time.monotonic()
    proc = subprocess.Popen([*PLAYBOOK, str(REPO / "playbooks" / "services.yml"),
                             "-e", f"ansible_python_interpreter={interpreter_wrapper()}"],
                            env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with MemorySampler(lambda: [proc.pid], controller_group) as ansible_memory, \
            MemorySampler(lab_roots, lab_group) as lab_memory:
        stdout, stderr = proc.communicate()
    seconds, cpu, server = time.monotonic() - started, cpu_children() - cpu_before, server_cpu() - server_before
    lab_cpu = {k: round(v - lab_before.get(k, 0), 1) for k, v in sorted(by_group(lab_roots(), lab_group, cpu_seconds).items())}
    if proc.returncode:
        raise SystemExit(f"services.yml ({label}) failed:\n{stdout[-4000:]}\n{stderr[-2000:]}")
    counts = request_counts(audit_since(mark))
    modules = {}
    for line in (WORK / "modules.log").read_text().splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0].startswith("AnsiballZ_"):
            modules[f"{parts[0][len('AnsiballZ_'):]}@{parts[1]}"] = {
                "seconds": float(parts[2]), "rss_mib": round(int(parts[3]) / 1024, 1),
                "cpu_s": round(float(parts[4]) + float(parts[5]), 2)}
    tasks = {name.split(" : ", 1)[-1].strip(): float(s) for name, s in PROFILE_LINE.findall(stdout.split("PLAY RECAP")[-1])}
    (WORK / f"services-{label}.log").write_text(stdout)
    module_cpu = sum(m["cpu_s"] for m in modules.values())
    return {"label": label, "seconds": round(seconds, 2), "load": load(),
            "cpu_s": {"modules": round(module_cpu, 1), "ansible_controller": round(cpu - module_cpu, 1),
                      "api_servers_etcd": round(server, 1)}, "lab_cpu_s": lab_cpu,
            "peak_mib": {"ansible": ansible_memory.rounded(), "lab": lab_memory.rounded()},
            "changed": sum(map(int, CHANGED.findall(stdout.split("PLAY RECAP")[-1]))),
            "entries_written": total(counts, "writes"), "requests": counts, "modules": modules, "tasks": tasks}


def server_cpu() -> float:
    """CPU seconds the bench lab's API servers and etcd have used so far."""
    total = 0
    for name, pid in lab_state()["pids"].items():
        if name == "etcd" or name.endswith("/kube-apiserver"):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def module_seconds(run: dict, module: str = "service_entry") -> dict[str, float]:
    return {k.split("@")[1]: v["seconds"] for k, v in run["modules"].items() if k.startswith(module + "@")}


# --- baselines ---------------------------------------------------------------------------------

def scratch(entries: list[dict], namespace: str) -> list[dict]:
    return [dict(e, metadata=dict(e["metadata"], namespace=namespace)) for e in entries]


def baseline_kubectl(entries: dict[str, list[dict]]) -> dict:
    """(b): kubectl apply --server-side of each cluster's whole set into a scratch namespace, the
    clusters in parallel; then the same again (re-apply, nothing changes); then removed."""
    files = {c: write_file(f"kubectl-{c}.yaml", scratch(entries[c], SCRATCH_KUBECTL)) for c in CLUSTERS}
    for cluster in CLUSTERS:
        kubectl(cluster, "create", "namespace", SCRATCH_KUBECTL)
        kubectl(cluster, "get", "serviceentries", "-n", SCRATCH_KUBECTL)  # discovery cached, as in daily use
    result = {"load": load()}
    for step in ("apply", "reapply"):
        mark, cpu_before, server_before = audit_mark(), cpu_children(), server_cpu()
        wall, per = parallel(lambda c: kubectl(c, "apply", "--server-side", "-f", str(files[c])), CLUSTERS)
        cpu, server = cpu_children() - cpu_before, server_cpu() - server_before
        counts = request_counts(audit_since(mark, user_agent="kubectl"))
        result[step] = {"seconds": round(wall, 2), "per_cluster": {c: round(s, 2) for c, (s, _) in per.items()},
                        "entries_written": total(counts, "writes"),
                        "cpu_s": {"kubectl": round(cpu, 1), "api_servers_etcd": round(server, 1)}}
    parallel(lambda c: kubectl(c, "delete", "namespace", SCRATCH_KUBECTL, "--wait=true"), CLUSTERS)
    return result


def baseline_k8s_loop(entries: list[dict]) -> dict:
    """(a): kubernetes.core.k8s, server-side apply, one task iteration per object, one cluster."""
    cluster = CLUSTERS[0]
    kubectl(cluster, "create", "namespace", SCRATCH_K8S)
    (WORK / "k8s-slice.json").write_text(json.dumps({"bench_entries": scratch(entries[:SLICE], SCRATCH_K8S)}))
    (WORK / "k8s-loop.yml").write_text(yaml.safe_dump([{
        "name": "baseline (a)", "hosts": cluster, "gather_facts": False, "vars_files": [str(WORK / "k8s-slice.json")],
        "tasks": [{"name": "kubernetes.core.k8s loop", "loop": "{{ bench_entries }}",
                   "loop_control": {"label": "{{ item.metadata.name }}"},
                   "kubernetes.core.k8s": {"kubeconfig": str(KUBECONFIG), "context": cluster, "state": "present",
                                           "definition": "{{ item }}",
                                           "server_side_apply": {"field_manager": "bench-k8s", "force_conflicts": True}}}]}],
        sort_keys=False))
    load_before = load()
    started = time.monotonic()
    proc = subprocess.run([*PLAYBOOK, str(WORK / "k8s-loop.yml")], env=ansible_env(), capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode:
        raise SystemExit(f"kubernetes.core.k8s loop failed:\n{proc.stdout[-3000:]}")
    written = len(kubectl(cluster, "get", "serviceentries", "-n", SCRATCH_K8S, "-o", "name").stdout.split())
    kubectl(cluster, "delete", "namespace", SCRATCH_K8S, "--wait=true")
    task = float(PROFILE_LINE.findall(proc.stdout.split("PLAY RECAP")[-1])[0][1])
    return {"objects": written, "playbook_seconds": round(seconds, 2), "task_seconds": task,
            "per_object_rate": round(written / task, 2), "load": load_before}


# --- measurements --------------------------------------------------------------------------------

def change_one_service() -> dict:
    """Add a port to one Service of cluster1 and run again: only that host's entries change."""
    kubectl("cluster1", "-n", "sebench-c1-0", "patch", "service", "svc-000", "--type=json", "-p",
            json.dumps([{"op": "add", "path": "/spec/ports/-", "value": {"name": "tcp-extra", "port": 9100}}]))
    return services_run("change-one")


def size_cycle(count: int, with_kubectl: bool) -> dict:
    clean()
    cycle = {"create_services_s": round(create_services(count), 2)}
    if with_kubectl:
        cycle["kubectl"] = baseline_kubectl(rendered_entries())
    cycle["first"] = services_run(f"first-{count}")
    cycle["noop"] = services_run(f"noop-{count}")
    print(f"  {count} services/cluster: first {cycle['first']['seconds']} s, no-op {cycle['noop']['seconds']} s"
          + (f", kubectl {cycle['kubectl']['apply']['seconds']} s / re-apply {cycle['kubectl']['reapply']['seconds']} s"
             if with_kubectl else "") + f"; load {load()}", flush=True)
    return cycle


def ratio(ours: float, base: float) -> float:
    return round(ours / base, 2)


def meets(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def best(runs: list[dict]) -> dict:
    """The least disturbed of repeated measurements (the machine is shared)."""
    return min(runs, key=lambda run: run["seconds"])


def slowest_module(run: dict) -> float:
    return max(module_seconds(run).values())


def report(cycles: dict[int, list[dict]], change: dict, k8s: dict) -> list[str]:
    size = SIZES[-1]
    main = cycles[size]
    first, noop = best([c["first"] for c in main]), best([c["noop"] for c in main])
    kube, rekube = best([c["kubectl"]["apply"] for c in main]), best([c["kubectl"]["reapply"] for c in main])
    all_runs = lambda step: [c[step]["seconds"] for c in main]  # noqa: E731
    ours_rate = first["entries_written"] / first["seconds"]
    module_first = module_seconds(first)
    objects = 2 * size * len(CLUSTERS)  # per cluster: ServiceEntries and as many DestinationRules
    module_rate = {c: objects / s for c, s in module_first.items()}
    peak = max(v["rss_mib"] for run in [*(c[step] for c in main for step in ("first", "noop")), change]
               for k, v in run["modules"].items() if k.startswith("service_entry@"))
    out: list[str] = []
    p = out.append
    p(f"fleet: {len(CLUSTERS)} clusters x {size} exported Services (2 ports each) -> {size * len(CLUSTERS)} "
      f"ServiceEntries and as many DestinationRules per cluster; {len(main)} repeats at this size, best shown "
      "(all in the JSON)")
    p("")
    p("1. first run (services.yml, all clusters in parallel)")
    p(f"   whole step {first['seconds']} s (all runs {all_runs('first')}), {first['entries_written']} ServiceEntries "
      f"and DestinationRules written -> {ours_rate:.1f} objects/s; load {first['load']}")
    p("   service_entry module process per cluster: " + ", ".join(
        f"{c} {s} s ({module_rate[c]:.0f} obj/s)" for c, s in sorted(module_first.items())))
    p(f"   CPU: modules {first['cpu_s']['modules']} s, Ansible controller {first['cpu_s']['ansible_controller']} s, "
      f"API servers + etcd {first['cpu_s']['api_servers_etcd']} s")
    p("   task times (profile_tasks): " + ", ".join(f"{k[:40]} {v}" for k, v in first["tasks"].items() if v >= 0.5))
    p("")
    p(f"2. baseline (a) kubernetes.core.k8s loop, server-side apply, {k8s['objects']} objects on cluster1: "
      f"task {k8s['task_seconds']} s -> {k8s['per_object_rate']} objects/s (playbook {k8s['playbook_seconds']} s; "
      f"load {k8s['load']})")
    p(f"   whole step: {ours_rate:.1f} vs {k8s['per_object_rate']} objects/s -> {ratio(ours_rate, k8s['per_object_rate'])}x "
      f"(goal >= 30x: {meets(ours_rate >= 30 * k8s['per_object_rate'])})")
    slowest = min(module_rate.values())
    p(f"   module, slowest cluster: {slowest:.0f} vs {k8s['per_object_rate']} objects/s -> "
      f"{ratio(slowest, k8s['per_object_rate'])}x")
    p("")
    p(f"3. baseline (b) kubectl apply --server-side, one file of {objects} per cluster, clusters in "
      f"parallel: {kube['seconds']} s (all runs {[c['kubectl']['apply']['seconds'] for c in main]}; "
      f"{kube['entries_written']} written; per cluster "
      f"{', '.join(f'{c} {s}' for c, s in sorted(kube['per_cluster'].items()))})")
    p(f"   CPU: kubectl {kube['cpu_s']['kubectl']} s, API servers + etcd {kube['cpu_s']['api_servers_etcd']} s "
      f"(ours: client {first['cpu_s']['modules'] + first['cpu_s']['ansible_controller']:.1f} s, "
      f"servers {first['cpu_s']['api_servers_etcd']} s)")
    p(f"   whole step: first run {first['seconds']} s vs kubectl {kube['seconds']} s -> "
      f"{ratio(first['seconds'], kube['seconds'])}x (goal <= 1.5x: {meets(first['seconds'] <= 1.5 * kube['seconds'])})")
    p("   paired per repeat (same cycle, same load): first run / kubectl = "
      + str([ratio(c["first"]["seconds"], c["kubectl"]["apply"]["seconds"]) for c in main]))
    worst_module, worst_kubectl = max(module_first.values()), max(kube["per_cluster"].values())
    p(f"   module write step: slowest cluster {worst_module} s vs kubectl slowest cluster {worst_kubectl} s -> "
      f"{ratio(worst_module, worst_kubectl)}x (goal <= 1.5x: {meets(worst_module <= 1.5 * worst_kubectl)})")
    p("")
    p(f"4. no-op run: {noop['seconds']} s (all runs {all_runs('noop')}), changed={noop['changed']}, write requests "
      f"{total(noop['requests'], 'writes', '')} (goal 0: {meets(total(noop['requests'], 'writes', '') == 0)}); "
      f"load {noop['load']}")
    p(f"   CPU: modules {noop['cpu_s']['modules']} s, Ansible controller {noop['cpu_s']['ansible_controller']} s, "
      f"API servers + etcd {noop['cpu_s']['api_servers_etcd']} s; "
      "task times: " + ", ".join(f"{k[:40]} {v}" for k, v in noop["tasks"].items() if v >= 0.5))
    for cluster, c in sorted(noop["requests"].items()):
        p(f"   {cluster} reads: " + ", ".join(f"{k} {n}" for k, n in sorted(c["reads"].items())))
    lists = {c: [noop["requests"][c]["reads"].get(f"list {r}", 0) for r in ("serviceentries", "destinationrules")]
             for c in CLUSTERS}
    p(f"   ServiceEntry, DestinationRule lists per cluster: {lists} (goal 1 per kind: "
      f"{meets(all(n == [1, 1] for n in lists.values()))})")
    p(f"   vs kubectl re-apply {rekube['seconds']} s (all runs {[c['kubectl']['reapply']['seconds'] for c in main]}; "
      f"{rekube['entries_written']} write requests; CPU kubectl {rekube['cpu_s']['kubectl']} s, API servers + etcd "
      f"{rekube['cpu_s']['api_servers_etcd']} s) -> {ratio(noop['seconds'], rekube['seconds'])}x "
      f"(goal < 1: {meets(noop['seconds'] < rekube['seconds'])}); module per cluster: "
      + ", ".join(f"{c} {s} s" for c, s in sorted(module_seconds(noop).items())))
    p("   paired per repeat: no-op / kubectl re-apply = "
      + str([ratio(c["noop"]["seconds"], c["kubectl"]["reapply"]["seconds"]) for c in main]))
    p("")
    p(f"5. one Service changed (port added to cluster1 sebench-c1-0/svc-000): {change['seconds']} s, writes:")
    for cluster, c in sorted(change["requests"].items()):
        p(f"   {cluster}: {c['writes'] or 'none'}")
    ok = all(c["writes"] == {"patch serviceentries": 1} for c in change["requests"].values())
    p(f"   goal 1 ServiceEntry per cluster, store and records untouched (the VIPs do not change): {meets(ok)}")
    p("")
    p(f"6. peak RSS of the service_entry module process at {objects} objects (max over the first, no-op "
      f"and change runs; /usr/bin/time %M via an interpreter wrapper): {peak} MiB (goal < 200: {meets(peak < 200)})")
    p("")
    p("7. scaling: services.yml whole step (best of the repeats), module = slowest cluster's service_entry process;")
    p("   per object = (first-run module - no-op module) / objects per cluster; no-op CPU = modules + Ansible")
    p(f"   {'svc/cl':>6} {'obj/cl':>6} {'first (s)':>9} {'x50':>5} {'module':>6} {'per obj':>9} "
      f"{'no-op (s)':>9} {'x50':>5} {'module':>6} {'no-op CPU':>9}  all first / no-op runs")
    base = None
    for count in SIZES:
        f, n = best([c["first"] for c in cycles[count]]), best([c["noop"] for c in cycles[count]])
        base = base or (f, n)
        per_entry = (slowest_module(f) - slowest_module(n)) / (2 * count * len(CLUSTERS)) * 1000
        p(f"   {count:>6} {2 * count * len(CLUSTERS):>6} {f['seconds']:>9} {ratio(f['seconds'], base[0]['seconds']):>4}x "
          f"{slowest_module(f):>6} {per_entry:>6.1f} ms {n['seconds']:>9} {ratio(n['seconds'], base[1]['seconds']):>4}x "
          f"{slowest_module(n):>6} {n['cpu_s']['modules'] + n['cpu_s']['ansible_controller']:>7.1f} s  "
          f"{[c['first']['seconds'] for c in cycles[count]]} / "
          f"{[c['noop']['seconds'] for c in cycles[count]]}")
    print("\n".join(out))
    return out


def lab_size(count: int) -> dict:
    """Every measurement on a lab of `count` clusters (brought up, and down at the end)."""
    global CLUSTERS
    CLUSTERS = tuple(f"cluster{i}" for i in range(1, count + 1))
    started = time.monotonic()
    ensure_lab()
    WORK.mkdir(parents=True, exist_ok=True)  # in the lab's state directory
    result: dict = {"clusters": count, "lab_up_s": round(time.monotonic() - started, 1)}
    print(f"{count} clusters: lab and control plane up in {result['lab_up_s']} s; load {load()}", flush=True)
    main_size = SIZES[-1]
    if count == FULL:
        cycles: dict[int, list[dict]] = {n: [] for n in SIZES}
        for repeat in range(max(REPEATS.values())):  # sizes interleaved, so that load drift hits all of them
            for size in SIZES:
                if repeat < REPEATS[size]:
                    cycles[size].append(size_cycle(size, with_kubectl=size == main_size))
    else:
        cycles = {main_size: [size_cycle(main_size, with_kubectl=repeat == 0) for repeat in range(OTHER_REPEATS)]}
    result["cycles"] = cycles
    result["change_one"] = change_one_service()
    if count == FULL:
        result["k8s_loop"] = baseline_k8s_loop(rendered_entries()["cluster1"])
        result["summary"] = report(cycles, result["change_one"], result["k8s_loop"])
    if os.environ.get("SE_BENCH_REUSE") != "1" or count != CLUSTER_COUNTS[-1]:
        lab("down", check=False)
    return result


def growth(rows: list[dict], key: str) -> list[str]:
    """Per added cluster: the change of rows[i][key] from the size before, divided by the clusters added."""
    out = [""]
    for before, after in zip(rows, rows[1:]):
        out.append(f"{(after[key] - before[key]) / (after['clusters'] - before['clusters']):+.1f}")
    return out


def fleet_report(sizes: list[dict]) -> list[str]:
    """Issue 15: the same step on labs of several sizes at the main size, against BASELINE clusters."""
    size = SIZES[-1]
    rows = []
    for result in sizes:
        cycles = result["cycles"][size]
        first, noop = best([c["first"] for c in cycles]), best([c["noop"] for c in cycles])
        clusters = [f"cluster{i}" for i in range(1, result["clusters"] + 1)]
        kube = [c["kubectl"] for c in cycles if "kubectl" in c]
        change = result["change_one"]["requests"]
        rows.append({
            "clusters": result["clusters"], "objects": 2 * size * result["clusters"], "first": first, "noop": noop,
            "first_s": first["seconds"], "noop_s": noop["seconds"], "written": first["entries_written"],
            "rate": first["entries_written"] / first["seconds"],
            "noop_writes": total(noop["requests"], "writes", ""),
            "lists": {c: [noop["requests"][c]["reads"].get(f"list {r}", 0) for r in ("serviceentries", "destinationrules")]
                      for c in clusters},
            "module_first": slowest_module(first), "module_noop": slowest_module(noop),
            "module_rss": max(v["rss_mib"] for run in (first, noop) for k, v in run["modules"].items()
                              if k.startswith("service_entry@")),
            "plan_rss": max((v["rss_mib"] for run in (first, noop) for k, v in run["modules"].items()
                             if k.startswith("service_entry_plan@")), default=0),
            "kubectl": best([k["apply"] for k in kube])["seconds"] if kube else None,
            # our first run / kubectl's, in the same cycle (same lab, same load)
            "paired": [ratio(c["first"]["seconds"], c["kubectl"]["apply"]["seconds"]) for c in cycles if "kubectl" in c],
            "client_ms": 1000 * (first["cpu_s"]["modules"] + first["cpu_s"]["ansible_controller"]) / first["entries_written"],
            "lab_ms": 1000 * sum(first["lab_cpu_s"].values()) / first["entries_written"],
            "lab_cpu_ms": {k: round(1000 * v / first["entries_written"], 1) for k, v in first["lab_cpu_s"].items()},
            "change_ok": all(c["writes"] == {"patch serviceentries": 1} for c in change.values()),
            "all_first": [c["first"]["seconds"] for c in cycles], "all_noop": [c["noop"]["seconds"] for c in cycles]})
    base = next((r for r in rows if r["clusters"] == BASELINE), rows[0])
    out: list[str] = []
    p = out.append
    p(f"8. lab sizes (issue 15): services.yml at {size} exported Services per cluster, best of the repeats; "
      f"baseline: {base['clusters']} clusters; rate = ServiceEntries and DestinationRules written over the fleet per "
      "second of the whole step")
    p(f"   {'clusters':>8} {'obj/cl':>6} {'first (s)':>9} {'+s/cl':>6} {'written':>7} {'obj/s':>6} {'s/obj x':>7} "
      f"{'no-op (s)':>9} {'x base':>6} {'+s/cl':>6} {'no-op writes':>12} {'lists SE,DR/cl':>14} {'module first/no-op':>18} "
      f"{'kubectl (s)':>11} {'first/kubectl':>13}")
    first_growth, noop_growth = growth(rows, "first_s"), growth(rows, "noop_s")
    for i, r in enumerate(rows):
        lists = sorted({tuple(v) for v in r["lists"].values()})
        kube = r["kubectl"]
        p(f"   {r['clusters']:>8} {r['objects']:>6} {r['first_s']:>9} {first_growth[i]:>6} {r['written']:>7} "
          f"{r['rate']:>6.1f} {ratio(base['rate'], r['rate']):>6}x {r['noop_s']:>9} {ratio(r['noop_s'], base['noop_s']):>5}x "
          f"{noop_growth[i]:>6} {r['noop_writes']:>12} {', '.join(map(str, lists)):>14} "
          f"{str(r['module_first']) + ' / ' + str(r['module_noop']):>18} {str(kube or '-'):>11} "
          f"{(str(ratio(r['first_s'], kube)) + 'x') if kube else '-':>13}")
    p("   all first / no-op runs: " + "; ".join(f"{r['clusters']} cl {r['all_first']} / {r['all_noop']}" for r in rows))
    p("   first run / kubectl, paired in the same cycle: " + "; ".join(f"{r['clusters']} cl {r['paired']}" for r in rows))
    p("   CPU per object written in the first run (ms): " + "; ".join(
        f"{r['clusters']} cl: ours (modules + controller) {r['client_ms']:.1f}, lab {r['lab_ms']:.1f} ("
        + ", ".join(f"{k} {v}" for k, v in r["lab_cpu_ms"].items()) + ")" for r in rows))
    p("")
    p("   where the time goes (first and no-op run): CPU seconds of the service_entry modules, Ansible's controller, the "
      "lab's API servers, etcd, istiods, rest; the slowest tasks")
    for r in rows:
        for run in ("first", "noop"):
            x = r[run]
            cpu = dict(modules=x["cpu_s"]["modules"], controller=x["cpu_s"]["ansible_controller"], **x["lab_cpu_s"])
            p(f"   {r['clusters']:>2} cl {run:>5}: " + ", ".join(f"{k} {v}" for k, v in cpu.items()) + f"; load {x['load']}")
            p("            tasks: " + ", ".join(f"{k[:40]} {v}" for k, v in sorted(x["tasks"].items(), key=lambda t: -t[1])[:4]))
    p("")
    out.extend("   " + line for line in peak_memory_lines(
        rows, {"service_entry RSS": lambda r: r["module_rss"], "plan RSS": lambda r: r["plan_rss"]}))
    p("")
    for r in rows:
        if r is base:
            continue
        p(f"   goal at {r['clusters']} clusters: per-object rate within 1.2x of {base['clusters']} -> {r['rate']:.1f} vs "
          f"{base['rate']:.1f} objects/s = {ratio(base['rate'], r['rate'])}x slower ({meets(base['rate'] <= 1.2 * r['rate'])}); "
          f"no-op writes {r['noop_writes']} ({meets(r['noop_writes'] == 0)}), one list per kind per cluster "
          f"({meets(all(v == [1, 1] for v in r['lists'].values()))}); one Service changed: one ServiceEntry patch per "
          f"cluster ({meets(r['change_ok'])})")
        if r["kubectl"] and base["kubectl"]:
            ours, theirs = ratio(r["first_s"], r["kubectl"]), ratio(base["first_s"], base["kubectl"])
            p(f"      against kubectl on the same lab (best runs): first run / kubectl {theirs}x at {base['clusters']} "
              f"clusters, {ours}x at {r['clusters']} -> {ratio(ours, theirs)}x; CPU per object written: ours "
              f"{ratio(r['client_ms'], base['client_ms'])}x, the lab's {ratio(r['lab_ms'], base['lab_ms'])}x")
    print("\n".join(out))
    return out


def reprint() -> None:
    """--report: print the report of the last run again from bench/results/service_entries.json."""
    global CLUSTERS
    saved = json.loads((RESULTS / "service_entries.json").read_text(encoding="utf-8"))
    sizes = [dict(r, cycles={int(n): c for n, c in r["cycles"].items()}) for r in saved["labs"]]
    for result in sizes:
        if "k8s_loop" in result:
            CLUSTERS = tuple(f"cluster{i}" for i in range(1, result["clusters"] + 1))
            report(result["cycles"], result["change_one"], result["k8s_loop"])
            print()
    fleet_report(sizes)


def main() -> None:
    global KUBECTL
    if "--report" in sys.argv[1:]:
        reprint()
        return
    KUBECTL = kubectl_bin()
    print(f"load at start: {load()}", flush=True)
    sizes = [lab_size(count) for count in CLUSTER_COUNTS]
    summary = fleet_report(sizes)
    print(f"load at end: {load()}")
    save("service_entries", {"baselines": {"a": "kubernetes.core.k8s loop, server-side apply, 100 objects, cluster1",
                                           "b": "kubectl apply --server-side -f, one file per cluster, in parallel",
                                           "lab sizes": f"the {BASELINE}-cluster lab"},
                             "labs": [dict(r, cycles={str(n): c for n, c in r["cycles"].items()}) for r in sizes],
                             "summary": [*next((r["summary"] for r in sizes if "summary" in r), []), "", *summary]})


if __name__ == "__main__":
    main()
