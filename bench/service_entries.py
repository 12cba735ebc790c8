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
runs with an interpreter wrapper; SE_BENCH_IN_WORKER=1 leaves it out, so that the modules run in
Ansible's workers as users' runs do, without per-module figures); CPU of the API servers, etcd and istiods from /proc, as the
machine is shared and wall times are noisy; peak memory (PSS, sampled every second) of Ansible's
process tree and of the lab. SE_BENCH_REUSE=1 reuses (and keeps) a running bench lab of the size;
--report prints the last run's report again from bench/results/service_entries.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.config import collection_on_path

from .common import (PLAYBOOK, PROFILE_TASK_LINE, REPO, RESULTS, STATE, WRITE_VERBS, MemorySampler, ansible_env,
                     audit_events_since, audit_mark, by_group, changed_count, controller_group, cpu_children, cpu_seconds,
                     enter_lab_network, lab, lab_group, lab_roots, lab_state, load, save)
from .service_entries_report import cluster_names, fleet_report, report, total

collection_on_path()
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeClient  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (  # noqa: E402
    render_destination_rules, render_entries)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import plan_fleet  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL, select_exports  # noqa: E402

BASELINE = 3                    # the lab size the others are compared with (when measured in the run)
SIZES = (50, 100, 200)          # exported Services per cluster; the last is the main measurement
REPEATS = {50: 2, 100: 2, 200: 3}  # clean fleet, first run, no-op run (and kubectl at the main size)
NAMESPACES = 4                  # per cluster, the benchmark's own: sebench-c<i>-<k>
OWNER_LABEL = "bench.meshops.io/owner"
SLICE = 100                     # objects written by baseline (a)
SCRATCH_KUBECTL, SCRATCH_K8S = "sebench-kubectl", "sebench-k8s"
UA = "meshops.multicluster"
WORK = STATE / "service-entries"
KUBECONFIG = STATE / "kubeconfig"


@dataclass(frozen=True)
class Settings:
    """What the environment asks of a run."""
    cluster_counts: tuple[int, ...]  # SE_BENCH_CLUSTERS: the lab sizes, measured in this order (default 3,6)
    full: int                        # SE_BENCH_FULL: the lab size that gets the whole protocol of issue 6 (0: none)
    other_repeats: int               # SE_BENCH_REPEATS: runs at the main size on the other lab sizes (default 2)
    reuse: bool                      # SE_BENCH_REUSE=1: reuse (and keep) a running bench lab of the size
    latency_ms: int                  # SE_BENCH_LATENCY_MS: round trip the lab's latency proxies add (0: loopback)
    max_in_flight: int | None        # SE_BENCH_MAX_IN_FLIGHT: mesh_k8s_max_in_flight of the runs (unset: the role's)
    in_worker: bool                  # SE_BENCH_IN_WORKER=1: modules in Ansible's workers (no per-module figures)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(cluster_counts=tuple(int(n) for n in os.environ.get("SE_BENCH_CLUSTERS", "3,6").split(",")),
                   full=int(os.environ.get("SE_BENCH_FULL", "3")),
                   other_repeats=int(os.environ.get("SE_BENCH_REPEATS", "2")),
                   reuse=os.environ.get("SE_BENCH_REUSE") == "1",
                   latency_ms=int(os.environ.get("SE_BENCH_LATENCY_MS", "0")),
                   max_in_flight=int(os.environ["SE_BENCH_MAX_IN_FLIGHT"]) if os.environ.get("SE_BENCH_MAX_IN_FLIGHT") else None,
                   in_worker=os.environ.get("SE_BENCH_IN_WORKER") == "1")


@dataclass(frozen=True)
class Fleet:
    """The bench lab's clusters being measured, and the kubectl that reaches them."""
    clusters: tuple[str, ...]
    kubectl_bin: str

    def kubectl(self, cluster: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.kubectl_bin, "--kubeconfig", str(KUBECONFIG), "--context", cluster, "--cache-dir", str(WORK / "kube-cache"),
               *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode:
            raise SystemExit(f"{' '.join(cmd[5:])} on {cluster} failed: {proc.stderr[-2000:]}")
        return proc


def kubectl_bin() -> str:
    from lab.build import ensure_binaries
    return str(ensure_binaries()["kubectl"])


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


def playbook_env() -> dict:
    return ansible_env("ansible.posix.profile_tasks", 100)


# --- the fleet ---------------------------------------------------------------------------------

def ensure_lab(fleet: Fleet, reuse: bool, latency_ms: int = 0) -> None:
    """The bench lab of the fleet's size, with latency proxies adding latency_ms to every request of
    the controller (ours and kubectl's alike: both use the lab's kubeconfig)."""
    if reuse and lab("status", check=False).returncode == 0 and len(lab_state()["clusters"]) == len(fleet.clusters) \
            and lab_state().get("latency_ms", 0) == latency_ms:
        enter_lab_network()
        return
    lab("down", check=False)
    lab("up", "--clusters", str(len(fleet.clusters)), "--latency-ms", str(latency_ms))
    enter_lab_network()
    proc = subprocess.run([*PLAYBOOK, str(REPO / "playbooks" / "control_plane.yml")], env=playbook_env(),
                          capture_output=True, text=True, check=False)
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


def create_services(fleet: Fleet, count: int) -> float:
    files = {c: write_file(f"services-{c}.yaml", service_docs(i, count)) for i, c in enumerate(fleet.clusters, 1)}
    seconds, _results = parallel(lambda c: fleet.kubectl(c, "apply", "--server-side", "-f", str(files[c])), fleet.clusters)
    return seconds


def clean(fleet: Fleet) -> None:
    """Delete the Services, every ServiceEntry (with their namespaces), the VIP store and records."""
    def one(cluster):
        fleet.kubectl(cluster, "delete", "namespace", "--wait=true", "--ignore-not-found", "-l", OWNER_LABEL)
        fleet.kubectl(cluster, "delete", "namespace", "--wait=true", "--ignore-not-found",
                      "-l", "multicluster.meshops.io/component=services")
        fleet.kubectl(cluster, "-n", "istio-system", "delete", "configmap", "--ignore-not-found", "meshops-vips",
                      "istiocoredns-records")
        left = fleet.kubectl(cluster, "get", "serviceentries,destinationrules", "-A", "-o", "name").stdout.split()
        if left:
            raise SystemExit(f"{cluster} still holds {len(left)} ServiceEntries and DestinationRules after cleaning")
    parallel(one, fleet.clusters)


def rendered_entries(fleet: Fleet) -> dict[str, list[dict]]:
    """The desired ServiceEntries and DestinationRules per cluster, as service_entry renders them
    from the plan (fresh VIPs)."""
    localities = {c["name"]: c["locality"] for c in lab_state()["clusters_info"]}
    clusters = []
    for name in fleet.clusters:
        client = KubeClient({"kubeconfig": str(KUBECONFIG), "context": name})
        exports, _missing = select_exports(client.list("Service", label_selector=f"{EXPORT_LABEL}=true"))
        address, port, _how = gateway_address(client.get("Service", "istio-eastwestgateway", "istio-system"))
        clusters.append({"name": name, "exports": exports, "gateway_address": address, "gateway_port": port,
                         "locality": localities[name]})
    fleet_plan = plan_fleet(clusters)
    return {name: render_entries(fleet_plan, name) + render_destination_rules(fleet_plan, name)
            for name in fleet_plan["gateways"]}


# --- audit log ---------------------------------------------------------------------------------

def requests_since(mark: dict[str, int], user_agent: str = UA) -> dict[str, dict[str, dict[str, int]]]:
    """Per cluster, the requests of `user_agent` since `mark`: writes and reads by '<verb> <resource>'."""
    out = {}
    for cluster, events in audit_events_since(mark).items():
        items = [e for e in events if e.get("userAgent", "").startswith(user_agent)]
        out[cluster] = {"writes": dict(Counter(_request(e) for e in items if e["verb"] in WRITE_VERBS)),
                        "reads": dict(Counter(_request(e) for e in items if e["verb"] not in WRITE_VERBS))}
    return out


def _request(event: dict) -> str:
    return f"{event['verb']} {event.get('objectRef', {}).get('resource', '?')}"


# --- our step ----------------------------------------------------------------------------------

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


# -e of every measured services.yml run (SE_BENCH_MAX_IN_FLIGHT), set by main().
EXTRA_VARS: list[str] = []
# SE_BENCH_IN_WORKER=1, set by main(): no interpreter wrapper, so the modules run in Ansible's workers
# (plugin_utils/in_worker.py) as users' runs do, and their time, memory and CPU are the controller's.
IN_WORKER: list[bool] = [False]


def services_run(fleet: Fleet, label: str) -> dict:
    """services.yml once: wall time, task times, per-module time and memory, API requests."""
    (WORK / "modules.log").unlink(missing_ok=True)
    mark = audit_mark(fleet.clusters)
    cpu_before, server_before, lab_before = cpu_children(), server_cpu(), by_group(lab_roots(), lab_group, cpu_seconds)
    started = time.monotonic()
    timed = [] if IN_WORKER[0] else ["-e", f"ansible_python_interpreter={interpreter_wrapper()}"]
    proc = subprocess.Popen([*PLAYBOOK, str(REPO / "playbooks" / "services.yml"), *timed, *EXTRA_VARS],
                            env=playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with MemorySampler(lambda: [proc.pid], controller_group) as ansible_memory, \
            MemorySampler(lab_roots, lab_group) as lab_memory:
        stdout, stderr = proc.communicate()
    seconds, cpu, server = time.monotonic() - started, cpu_children() - cpu_before, server_cpu() - server_before
    lab_cpu = {k: round(v - lab_before.get(k, 0), 1) for k, v in sorted(by_group(lab_roots(), lab_group, cpu_seconds).items())}
    if proc.returncode:
        raise SystemExit(f"services.yml ({label}) failed:\n{stdout[-4000:]}\n{stderr[-2000:]}")
    counts = requests_since(mark)
    modules = {} if IN_WORKER[0] else module_processes(WORK / "modules.log")
    tasks = {name.split(" : ", 1)[-1].strip(): float(s) for name, s in PROFILE_TASK_LINE.findall(stdout.rsplit("PLAY RECAP", maxsplit=1)[-1])}
    (WORK / f"services-{label}.log").write_text(stdout)
    module_cpu = sum(m["cpu_s"] for m in modules.values())
    return {"label": label, "seconds": round(seconds, 2), "load": load(),
            "cpu_s": {"modules": round(module_cpu, 1), "ansible_controller": round(cpu - module_cpu, 1),
                      "api_servers_etcd": round(server, 1)}, "lab_cpu_s": lab_cpu,
            "peak_mib": {"ansible": ansible_memory.rounded(), "lab": lab_memory.rounded()},
            "changed": changed_count(stdout),
            "entries_written": total(counts, "writes"), "requests": counts, "modules": modules, "tasks": tasks}


def module_processes(log: Path) -> dict[str, dict]:
    """What the interpreter wrapper logged, per '<module>@<context>': seconds, peak RSS (MiB), CPU seconds."""
    modules = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0].startswith("AnsiballZ_"):
            modules[f"{parts[0][len('AnsiballZ_'):]}@{parts[1]}"] = {
                "seconds": float(parts[2]), "rss_mib": round(int(parts[3]) / 1024, 1),
                "cpu_s": round(float(parts[4]) + float(parts[5]), 2)}
    return modules


def server_cpu() -> float:
    """CPU seconds the bench lab's API servers and etcd have used so far."""
    return sum(cpu_seconds(pid) for name, pid in lab_state()["pids"].items()
               if name == "etcd" or name.endswith("/kube-apiserver"))


# --- baselines ---------------------------------------------------------------------------------

def scratch(entries: list[dict], namespace: str) -> list[dict]:
    return [dict(e, metadata=dict(e["metadata"], namespace=namespace)) for e in entries]


def baseline_kubectl(fleet: Fleet, entries: dict[str, list[dict]]) -> dict:
    """(b): kubectl apply --server-side of each cluster's whole set into a scratch namespace, the
    clusters in parallel; then the same again (re-apply, nothing changes); then removed."""
    files = {c: write_file(f"kubectl-{c}.yaml", scratch(entries[c], SCRATCH_KUBECTL)) for c in fleet.clusters}
    for cluster in fleet.clusters:
        fleet.kubectl(cluster, "create", "namespace", SCRATCH_KUBECTL)
        fleet.kubectl(cluster, "get", "serviceentries", "-n", SCRATCH_KUBECTL)  # discovery cached, as in daily use
    result = {"load": load()}
    for step in ("apply", "reapply"):
        mark, cpu_before, server_before = audit_mark(fleet.clusters), cpu_children(), server_cpu()
        wall, per = parallel(lambda c: fleet.kubectl(c, "apply", "--server-side", "-f", str(files[c])), fleet.clusters)
        cpu, server = cpu_children() - cpu_before, server_cpu() - server_before
        counts = requests_since(mark, user_agent="kubectl")
        result[step] = {"seconds": round(wall, 2), "per_cluster": {c: round(s, 2) for c, (s, _result) in per.items()},
                        "entries_written": total(counts, "writes"),
                        "cpu_s": {"kubectl": round(cpu, 1), "api_servers_etcd": round(server, 1)}}
    parallel(lambda c: fleet.kubectl(c, "delete", "namespace", SCRATCH_KUBECTL, "--wait=true"), fleet.clusters)
    return result


def baseline_k8s_loop(fleet: Fleet, entries: list[dict]) -> dict:
    """(a): kubernetes.core.k8s, server-side apply, one task iteration per object, one cluster."""
    cluster = fleet.clusters[0]
    fleet.kubectl(cluster, "create", "namespace", SCRATCH_K8S)
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
    proc = subprocess.run([*PLAYBOOK, str(WORK / "k8s-loop.yml")], env=playbook_env(), capture_output=True, text=True,
                          check=False)
    seconds = time.monotonic() - started
    if proc.returncode:
        raise SystemExit(f"kubernetes.core.k8s loop failed:\n{proc.stdout[-3000:]}")
    written = len(fleet.kubectl(cluster, "get", "serviceentries", "-n", SCRATCH_K8S, "-o", "name").stdout.split())
    fleet.kubectl(cluster, "delete", "namespace", SCRATCH_K8S, "--wait=true")
    task = float(PROFILE_TASK_LINE.findall(proc.stdout.split("PLAY RECAP")[-1])[0][1])
    return {"objects": written, "playbook_seconds": round(seconds, 2), "task_seconds": task,
            "per_object_rate": round(written / task, 2), "load": load_before}


# --- measurements --------------------------------------------------------------------------------

def change_one_service(fleet: Fleet) -> dict:
    """Add a port to one Service of cluster1 and run again: only that host's entries change."""
    fleet.kubectl("cluster1", "-n", "sebench-c1-0", "patch", "service", "svc-000", "--type=json", "-p",
                  json.dumps([{"op": "add", "path": "/spec/ports/-", "value": {"name": "tcp-extra", "port": 9100}}]))
    return services_run(fleet, "change-one")


def size_cycle(fleet: Fleet, count: int, with_kubectl: bool) -> dict:
    clean(fleet)
    cycle = {"create_services_s": round(create_services(fleet, count), 2)}
    if with_kubectl:
        cycle["kubectl"] = baseline_kubectl(fleet, rendered_entries(fleet))
    cycle["first"] = services_run(fleet, f"first-{count}")
    cycle["noop"] = services_run(fleet, f"noop-{count}")
    print(f"  {count} services/cluster: first {cycle['first']['seconds']} s, no-op {cycle['noop']['seconds']} s"
          + (f", kubectl {cycle['kubectl']['apply']['seconds']} s / re-apply {cycle['kubectl']['reapply']['seconds']} s"
             if with_kubectl else "") + f"; load {load()}", flush=True)
    return cycle


def lab_size(settings: Settings, kubectl: str, count: int) -> dict:
    """Every measurement on a lab of `count` clusters (brought up, and down at the end)."""
    fleet = Fleet(cluster_names(count), kubectl)
    started = time.monotonic()
    ensure_lab(fleet, settings.reuse, settings.latency_ms)
    WORK.mkdir(parents=True, exist_ok=True)  # in the lab's state directory
    result: dict = {"clusters": count, "lab_up_s": round(time.monotonic() - started, 1),
                    "latency_ms": settings.latency_ms, "max_in_flight": settings.max_in_flight}
    print(f"{count} clusters: lab and control plane up in {result['lab_up_s']} s"
          + (f" ({settings.latency_ms} ms round trip through the lab's latency proxies)" if settings.latency_ms else "")
          + (f"; mesh_k8s_max_in_flight={settings.max_in_flight}" if settings.max_in_flight else "")
          + ("; modules in Ansible's workers (no per-module figures)" if settings.in_worker else "")
          + f"; load {load()}", flush=True)
    main_size = SIZES[-1]
    if count == settings.full:
        cycles: dict[int, list[dict]] = {n: [] for n in SIZES}
        for repeat in range(max(REPEATS.values())):  # sizes interleaved, so that load drift hits all of them
            for size in SIZES:
                if repeat < REPEATS[size]:
                    cycles[size].append(size_cycle(fleet, size, with_kubectl=size == main_size))
    else:
        cycles = {main_size: [size_cycle(fleet, main_size, with_kubectl=repeat == 0)
                              for repeat in range(settings.other_repeats)]}
    result["cycles"] = cycles
    result["change_one"] = change_one_service(fleet)
    if count == settings.full:
        result["k8s_loop"] = baseline_k8s_loop(fleet, rendered_entries(fleet)["cluster1"])
        result["summary"] = report(fleet.clusters, cycles, result["change_one"], result["k8s_loop"])
    if not settings.reuse or count != settings.cluster_counts[-1]:
        lab("down", check=False)
    return result


def reprint() -> None:
    """--report: print the report of the last run again from bench/results/service_entries.json."""
    saved = json.loads((RESULTS / "service_entries.json").read_text(encoding="utf-8"))
    sizes = [dict(r, cycles={int(n): c for n, c in r["cycles"].items()}) for r in saved["labs"]]
    for result in sizes:
        if "k8s_loop" in result:
            report(cluster_names(result["clusters"]), result["cycles"], result["change_one"], result["k8s_loop"])
            print()
    fleet_report(sizes, SIZES[-1], BASELINE)


def main() -> None:
    if "--report" in sys.argv[1:]:
        reprint()
        return
    settings = Settings.from_env()
    if settings.max_in_flight:
        EXTRA_VARS.extend(["-e", f"mesh_k8s_max_in_flight={settings.max_in_flight}"])
    IN_WORKER[0] = settings.in_worker
    kubectl = kubectl_bin()
    print(f"load at start: {load()}", flush=True)
    sizes = [lab_size(settings, kubectl, count) for count in settings.cluster_counts]
    summary = fleet_report(sizes, SIZES[-1], BASELINE)
    print(f"load at end: {load()}")
    save("service_entries", {"baselines": {"a": "kubernetes.core.k8s loop, server-side apply, 100 objects, cluster1",
                                           "b": "kubectl apply --server-side -f, one file per cluster, in parallel",
                                           "lab sizes": f"the {BASELINE}-cluster lab",
                                           "latency_ms": settings.latency_ms},
                             "labs": [dict(r, cycles={str(n): c for n, c in r["cycles"].items()}) for r in sizes],
                             "summary": [*next((r["summary"] for r in sizes if "summary" in r), []), "", *summary]})


if __name__ == "__main__":
    main()
