"""bench/fleet_plan (issue 15): the services step's plan and one cluster's objects at 10, 50 and 100
clusters x 300 exported Services, simulated (pure code, no cluster, no Ansible run).

The inputs are what the step really hands over: each cluster's exports come from
service_exports.select_exports over synthetic Service objects (2 named ports each; 30 of a
cluster's 300 Services are also exported by a partner cluster, for failover), its VIP store from
vip_allocation.store_from_configmap - by fingerprint, the first cluster's in full, as gather.yml asks
for it - and everything crosses JSON as it does between Ansible and its
modules. Every cluster receives one ServiceEntry and one DestinationRule per host of the fleet.
Two runs per size: the first (empty VIP stores) and the steady state (every cluster holds the store
the first run wrote: what each later run reads).

Measured, per size and run:
  - plan(): fleet_plan.plan in this process, wall time (best of the repeats) and peak of the memory
    it allocates (tracemalloc, a separate call);
  - the service_entry_plan module as a process of its own on the JSON arguments the plan task
    sends (argument parsing and checks, plan(), the JSON result): wall time and peak RSS;
  - what travels through Ansible: the gather result per cluster (mesh_services_info), the plan
    task's arguments, its result, the arguments of each cluster's writer task (service_entry gets
    the whole plan, roles/services/tasks/write.yml) and their sum over the fleet;
  - one cluster's writer: decoding its arguments and render_entries + render_destination_rules,
    wall time and tracemalloc peak.

The verify path (steady state): mesh_check's judgement of one cluster's .global names from the plan
text and its name (expected_records + check_dns, in this process: what the module does after its
reads), and mesh_report as a process of its own on the arguments the verify role sends - one
description per cluster, whose size does not grow with the hosts, and the plan once, as text: wall
and CPU time, peak RSS, argument and result bytes. Its goals: under 10 s and 500 MB at the largest
size, and linear in hosts + clusters (CPU and argument bytes per host + cluster within 0.8x-1.2x of
the baseline's).

Baseline (same run): the 10-cluster fleet. Goals: linear in the objects a cluster receives (time,
memory and bytes per received object at 100 clusters within 1.2x of 10 clusters), and the plan
for 100 clusters under 10 s and 500 MB. `--profile` adds where the steady-state plan of the largest
fleet spends its time (cProfile) and memory (tracemalloc). FLEET_BENCH_SIZES=10,50 picks the sizes.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from lab.config import collection_on_path

from .common import load, meets, printed, ratio, save

COLLECTIONS = collection_on_path()
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (  # noqa: E402
    render_destination_rules, render_entries)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import (  # noqa: E402
    cluster_store, from_text, plan_fleet, to_text, traffic_policy)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL, select_exports  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import (  # noqa: E402
    store_configmap, store_from_configmap, store_summary)
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import (  # noqa: E402
    check_dns, expected_records)

SIZES = tuple(int(n) for n in os.environ.get("FLEET_BENCH_SIZES", "10,50,100").split(","))
SERVICES = 300          # exported per cluster
SHARED = 30             # of them exported by the cluster's partner too (clusters 2k and 2k+1)
NAMESPACES = 4          # per cluster, its own
MODULE = "ansible_collections.meshops.multicluster.plugins.modules.service_entry_plan"
REPORT_MODULE = "ansible_collections.meshops.multicluster.plugins.modules.mesh_report"
# The fleet expectations the verify role hands mesh_report besides the plan (roles/verify/tasks/main.yml).
REPORT_FLEET = {"mesh_id": "mesh1", "trust_domain": "cluster.local", "root_fingerprint": "AB:CD", "chart_version": "1.31.0",
                "revision": "1-31-0", "releases": ["istio-base", "istiod-1-31-0", "istio-eastwestgateway"],
                "warn_days": 30, "istio_namespace": "istio-system", "gateway_name": "istio-eastwestgateway",
                "revoked_clusters": {}}
# The plan task's other arguments, as roles/services/tasks/plan.yml passes them (role defaults).
PLAN_ARGS = {"unavailable": [], "vip_range": "240.10.0.0/16", "namespace_mode": "replicate",
             "namespace": "istio-system", "cluster_domain": "cluster.local",
             "policy": {"failover": "locality", "consecutive_errors": 5, "interval": "10s",
                        "base_ejection_time": "30s", "max_ejection_percent": 100}}
WRITER_ARGS = {"istio_namespace": "istio-system", "dns_records": True, "prune": True}
MB = 1e6
MIB = 2 ** 20


def cluster_name(index: int) -> str:
    return f"cluster{index + 1}"


def services(index: int) -> list[dict]:
    """The Services of one cluster as a list call returns them (the fields select_exports reads, and
    some it does not): its own namespaces, and one it shares with its partner cluster."""
    items = []
    for j in range(SERVICES):
        namespace = f"team{index}-{j % NAMESPACES}" if j < SERVICES - SHARED else f"shared{index // 2}"
        items.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{j:03d}", "namespace": namespace, "uid": f"{index:04d}-{j:04d}",
                         "resourceVersion": str(1000 + j), "labels": {EXPORT_LABEL: "true", "app": f"svc-{j:03d}"}},
            "spec": {"selector": {"app": f"svc-{j:03d}"}, "type": "ClusterIP", "clusterIP": f"10.96.{j // 250}.{j % 250}",
                     "ports": [{"name": "http", "port": 8000, "protocol": "TCP", "targetPort": 8080},
                               {"name": "grpc", "port": 9000, "protocol": "TCP", "targetPort": 9090}]}})
    return items


def gathered(count: int) -> tuple[list[dict], float]:
    """Each cluster as gather.yml describes it (empty VIP stores), and the seconds select_exports took
    over all clusters."""
    clusters, seconds = [], 0.0
    for index in range(count):
        items = services(index)
        started = time.perf_counter()
        exports, _missing = select_exports(items)
        seconds += time.perf_counter() - started
        clusters.append({"name": cluster_name(index), "exports": exports, "vip_store": gathered_store(index, None),
                         "locality": f"region{index % 5}/zone{index}",
                         "gateway_address": f"10.{index // 250}.{index % 250}.10", "gateway_port": 15443})
    return clusters, seconds


def gathered_store(index: int, configmap: dict | None) -> dict:
    """A cluster's VIP store as gather.yml reads it: in full from the first cluster, else its summary."""
    store = store_from_configmap(configmap)
    return store if index == 0 else store_summary(store)


def read_back(clusters: list[dict], first: dict) -> list[dict]:
    """The clusters as the next run reads them: each holding the store the first run wrote."""
    out = []
    for number, cluster in enumerate(clusters):
        configmap = store_configmap(cluster_store(first, cluster["name"]))
        configmap["metadata"]["resourceVersion"] = str(50000 + number)
        out.append(dict(cluster, vip_store=gathered_store(number, configmap)))
    return out


def gather_result(cluster: dict) -> dict:
    """What mesh_services_info returns for a cluster (the role keeps it as mesh_services_cluster)."""
    return {"changed": False, "exports": cluster["exports"], "missing": [], "vip_store": cluster["vip_store"],
            "gateway": {"address": cluster["gateway_address"], "port": cluster["gateway_port"]},
            "api_requests": {"read": 3, "write": 0}}


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def repeats(count: int) -> int:
    """Timed calls per measurement, the best counts: more where a call is short."""
    return 5 if count <= 10 else 3 if count <= 50 else 2


def timed(times: int, fn, *args) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds of `times` calls, the last result); garbage collected
    before each call, and the cyclic collector off during it, as in the module processes."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _run in range(times):
        result = None
        gc.collect()
        gc.disable()
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = fn(*args)
            wall, cpu = min(wall, time.perf_counter() - started), min(cpu, time.process_time() - cpu_started)
        finally:
            gc.enable()
    return wall, cpu, result


def traced(fn, *args) -> float:
    """Peak MiB of what fn allocates beyond what exists when it starts (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn(*args)
        return (tracemalloc.get_traced_memory()[1] - base) / MIB
    finally:
        tracemalloc.stop()


def run_plan(clusters: list[dict]) -> dict:
    return plan_fleet(clusters, vip_range=PLAN_ARGS["vip_range"], namespace_mode=PLAN_ARGS["namespace_mode"],
                      namespace=PLAN_ARGS["namespace"], cluster_domain=PLAN_ARGS["cluster_domain"],
                      unavailable=PLAN_ARGS["unavailable"], policy=traffic_policy(**PLAN_ARGS["policy"]))


# Runs the module as a child of a small process: Linux keeps a process's peak RSS across exec, so a
# module started straight from this (large) process would report this process's size as its own.
LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_pid, status, usage = os.wait4(pid, 0)
sys.stderr.write("%f %d\\n" % (usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def module_process(args_json: str, module: str = MODULE) -> tuple[float, float, float, str]:
    """A module (service_entry_plan unless told) as a process of its own: (wall seconds, CPU seconds,
    peak RSS MiB, its JSON result)."""
    with tempfile.TemporaryDirectory() as work:
        args, out = Path(work) / "args.json", Path(work) / "out.json"
        args.write_text(args_json)
        env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
        started = time.perf_counter()
        with open(out, "wb") as stdout:
            proc = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-m", module, str(args)],
                                  stdout=stdout, stderr=subprocess.PIPE, env=env, text=True, check=False)
        seconds = time.perf_counter() - started
        text = out.read_text()
    if proc.returncode:
        raise SystemExit(f"{module} failed ({proc.returncode}): {text[-2000:]}{proc.stderr[-2000:]}")
    cpu, maxrss_kib = proc.stderr.split()[-2:]
    return seconds, float(cpu), int(maxrss_kib) / 1024, text.strip()


def module_startup() -> float:
    """CPU seconds of the module process on an empty fleet (interpreter, imports, argument checks):
    taken off the module's time per object."""
    return min(module_process(dumps({"ANSIBLE_MODULE_ARGS": dict(PLAN_ARGS, clusters=[])}))[1] for _run in range(3))


def writer(args_json: str, cluster: str) -> list[dict]:
    """What one writer does before it reads its cluster: decode its arguments, render its objects."""
    args = json.loads(args_json)["ANSIBLE_MODULE_ARGS"]
    fleet_plan = from_text(args["plan"])
    return render_entries(fleet_plan, cluster) + render_destination_rules(fleet_plan, cluster)


def measure_run(label: str, clusters: list[dict], startup: float) -> tuple[dict, dict]:
    """One run of the step on `clusters` (as gathered): (row, the plan). Only what the measured code
    needs is kept alive while it runs, as in the module processes (a larger heap slows Python's
    garbage collector)."""
    count, times = len(clusters), repeats(len(clusters))
    gather_bytes = sum(len(dumps(gather_result(c))) for c in clusters)
    plan_args = dumps({"ANSIBLE_MODULE_ARGS": dict(PLAN_ARGS, clusters=clusters)})
    input_mib = traced(json.loads, plan_args)
    decoded = json.loads(plan_args)["ANSIBLE_MODULE_ARGS"]["clusters"]  # what the module works on
    plan_s, plan_cpu, fleet_plan = timed(times, run_plan, decoded)
    plan_mib = traced(run_plan, decoded)
    del decoded
    module_s, module_cpu, module_rss, result = module_process(plan_args)
    module_plan = json.loads(result)["plan"]  # JSON text, handed on as it is
    if from_text(module_plan)["allocations"] != fleet_plan["allocations"]:
        raise SystemExit("the module and plan() disagree")
    writer_args = dumps({"ANSIBLE_MODULE_ARGS": dict(WRITER_ARGS, plan=module_plan, cluster_name=cluster_name(0))})
    del module_plan
    render_s, render_cpu, objects = timed(times, writer, writer_args, cluster_name(0))
    objects_n = len(objects)
    del objects
    render_mib = traced(writer, writer_args, cluster_name(0))
    row = {
        "clusters": count, "run": label, "hosts": len(fleet_plan["services"]), "objects_per_cluster": objects_n,
        "generation": fleet_plan["generation"],
        "plan_s": round(plan_s, 3), "plan_peak_mib": round(plan_mib, 1), "plan_input_in_memory_mib": round(input_mib, 1),
        "module_s": round(module_s, 2), "module_peak_rss_mib": round(module_rss),
        "gather_result_kb_per_cluster": round(gather_bytes / count / 1e3, 1),
        "plan_args_mb": round(len(plan_args) / MB, 2), "plan_result_mb": round(len(result) / MB, 2),
        "writer_args_mb": round(len(writer_args) / MB, 2),
        "fleet_traffic_mb": round((gather_bytes + len(plan_args) + len(result) + count * len(writer_args)) / MB, 1),
        "writer_s": round(render_s, 3), "writer_peak_mib": round(render_mib, 1),
        "plan_cpu_s": round(plan_cpu, 3), "module_cpu_s": round(module_cpu, 2), "writer_cpu_s": round(render_cpu, 3),
        "plan_us_per_object": round(plan_cpu / objects_n * 1e6, 2),
        "writer_us_per_object": round(render_cpu / objects_n * 1e6, 2),
        "writer_args_bytes_per_object": round(len(writer_args) / objects_n),
        "plan_peak_kb_per_object": round(plan_mib * MIB / objects_n / 1e3, 2),
        "module_us_per_object": round(max(module_cpu - startup, 0) / objects_n * 1e6, 1),
    }
    print(f"  {count} clusters, {label}: plan {row['plan_s']} s, module {row['module_s']} s / {row['module_peak_rss_mib']} MiB, "
          f"writer args {row['writer_args_mb']} MB, writer {row['writer_s']} s", flush=True)
    return row, fleet_plan


def dns_verdict(plan_text: str, cluster: str) -> dict:
    """What mesh_check does with the plan after its reads: the cluster's expected records, judged
    against a zone server that holds them all (the cluster DNS not asked)."""
    expected = expected_records(from_text(plan_text), cluster)
    return check_dns(dict(expected), {}, True, expected)


def verified_cluster(index: int, verdict: dict, hosts: int) -> dict:
    """One cluster as the verify role describes it for mesh_report (mesh_verify_cluster) on a
    converged fleet: its size does not depend on the fleet's hosts."""
    revision = REPORT_FLEET["revision"]
    release = {"chart": "istiod", "version": "1.31.0", "app_version": "1.31.0",
               "values": {"global": {"meshID": "mesh1", "network": f"net{index}",
                                     "multiCluster": {"clusterName": cluster_name(index)}}}}
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": hosts}
    return {
        "name": cluster_name(index), "network": f"net{index}", "reachable": True, "error": "",
        "trust": {"exists": True, "valid": True, "root_fingerprint": "AB:CD", "intermediate": {"days_left": 700}},
        "check": {"releases": {"istio-base": {"chart": "base", "version": "1.31.0", "app_version": "1.31.0", "values": None},
                               f"istiod-{revision}": release,
                               "istio-eastwestgateway": {"chart": "gateway", "version": "1.31.0", "app_version": "1.31.0",
                                                         "values": None}},
                  "not_ready": {}, "gateway": {"address": f"10.{index // 250}.{index % 250}.10", "port": 15443,
                                               "source": "load balancer IP"},
                  "dns": verdict, "istiod_roots": ["AB:CD"], "malformed": [],
                  "revisions": {"revisions": {revision: {"release": f"istiod-{revision}", "version": "1.31.0", "ready": True,
                                                         "service": True, "in_use_by": ["tag default"]}},
                                "tags": {"default": {"revision": revision, "ours": True}}, "default_revision": revision,
                                "namespaces": {}, "pods": {}, "gateway": {"name": "istio-eastwestgateway",
                                                                          "revision": revision, "ready": True},
                                "gateway_canaries": [], "dangling_webhooks": []}},
        "dns_delegated": True, "service_entries": dict(counts, destination_rules=dict(counts), held=[])}


def report_args(clusters: list[dict], plan_text: str) -> str:
    return dumps({"ANSIBLE_MODULE_ARGS": {"clusters": clusters, "fleet": dict(REPORT_FLEET, plan=plan_text),
                                          "report_dir": "", "fail_on_error": False}})


def report_startup() -> float:
    """CPU seconds of the mesh_report process on an empty fleet: taken off its time per host + cluster."""
    return min(module_process(report_args([], ""), REPORT_MODULE)[1] for _run in range(3))


def measure_verify(count: int, plan_text: str, startup: float) -> dict:
    """The verify path on the steady plan of `count` clusters."""
    fleet_plan = from_text(plan_text)
    hosts, times = len(fleet_plan["services"]), repeats(count)
    del fleet_plan
    check_s, check_cpu, verdict = timed(times, dns_verdict, plan_text, cluster_name(0))
    check_mib = traced(dns_verdict, plan_text, cluster_name(0))
    if verdict["status"] != "pass":
        raise SystemExit(f"{count} clusters: the DNS verdict of a converged cluster is {verdict}")
    clusters = [verified_cluster(index, verdict, hosts) for index in range(count)]
    args = report_args(clusters, plan_text)
    report_s, report_cpu, report_rss, result = module_process(args, REPORT_MODULE)
    if not json.loads(result).get("ok"):
        raise SystemExit(f"{count} clusters: the report of a converged fleet is not ok: {result[:2000]}")
    units = hosts + count
    row = {"clusters": count, "hosts": hosts, "check_s": round(check_s, 3), "check_peak_mib": round(check_mib, 1),
           "check_us_per_host": round(check_cpu / hosts * 1e6, 2),
           "report_args_mb": round(len(args) / MB, 2), "report_result_mb": round(len(result) / MB, 2),
           "report_s": round(report_s, 2), "report_cpu_s": round(report_cpu, 2), "report_peak_rss_mib": round(report_rss),
           "report_us_per_unit": round(max(report_cpu - startup, 0) / units * 1e6, 1), "report_args_bytes_per_unit": round(len(args) / units)}
    print(f"  {count} clusters, verify: mesh_check's verdict {row['check_s']} s, mesh_report {row['report_s']} s / "
          f"{row['report_peak_rss_mib']} MiB, arguments {row['report_args_mb']} MB", flush=True)
    return row


def profile_steady(count: int) -> list[str]:
    """Where the steady-state plan of `count` clusters spends its time and memory."""
    clusters, _select_seconds = gathered(count)
    decoded = json.loads(dumps(read_back(clusters, run_plan(json.loads(dumps(clusters))))))
    profiler = cProfile.Profile()
    profiler.enable()
    run_plan(decoded)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(12)
    lines = [f"cProfile, steady-state plan() of {count} clusters (by own time):"]
    lines += [line for line in text.getvalue().splitlines() if line.strip()][3:]
    gc.collect()
    tracemalloc.start()
    result = run_plan(decoded)
    peak = tracemalloc.get_traced_memory()[1] / MIB
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    lines.append(f"tracemalloc, steady-state plan() of {count} clusters: peak {peak:.1f} MiB; what its result holds, "
                 f"top sites ({len(result['services'])} hosts):")
    for stat in snapshot.statistics("lineno")[:8]:
        where = stat.traceback[0]
        lines.append(f"  {stat.size / MIB:8.1f} MiB  {stat.count:>9} blocks  {Path(where.filename).name}:{where.lineno}")
    return lines


def report(rows: list[dict], select_s: dict[int, float], startup: float, verify_rows: list[dict],
           verify_startup: float) -> list[str]:
    out: list[str] = []
    p = out.append
    base = {r["run"]: r for r in rows if r["clusters"] == SIZES[0]}

    def x_base(r: dict, key: str) -> float:
        """r[key] against the baseline's, in the same run (first or steady)."""
        return ratio(r[key], base[r["run"]][key])

    p(f"fleet: N clusters x {SERVICES} exported Services (2 ports; {SHARED} of them exported by a partner cluster too); "
      "every cluster receives one ServiceEntry and one DestinationRule per host")
    p(f"baseline: {SIZES[0]} clusters, same run; first = empty VIP stores, steady = the stores the first run wrote")
    p("")
    p("1. the plan (controller): plan() in-process, best of 5/3/2 calls (10/50/100 clusters), wall seconds; us/obj = CPU "
      "microseconds per object a cluster receives; peak = tracemalloc, beyond its decoded input (input MiB);")
    p(f"   module = the service_entry_plan process on the task's JSON arguments: wall seconds, CPU us/obj net of its "
      f"{startup:.2f} s on an empty fleet, peak RSS")
    p(f"   {'clusters':>8} {'run':>6} {'hosts':>6} {'obj/cl':>7} {'plan (s)':>8} {'us/obj':>7} {'x base':>6} "
      f"{'peak MiB':>8} {'KB/obj':>6} {'input MiB':>9} {'module (s)':>10} {'us/obj':>7} {'x base':>6} {'module RSS MiB':>14}")
    for r in rows:
        p(f"   {r['clusters']:>8} {r['run']:>6} {r['hosts']:>6} {r['objects_per_cluster']:>7} {r['plan_s']:>8} "
          f"{r['plan_us_per_object']:>7} {x_base(r, 'plan_us_per_object'):>5}x "
          f"{r['plan_peak_mib']:>8} {r['plan_peak_kb_per_object']:>6} {r['plan_input_in_memory_mib']:>9} "
          f"{r['module_s']:>10} {r['module_us_per_object']:>7} "
          f"{x_base(r, 'module_us_per_object'):>5}x {r['module_peak_rss_mib']:>14}")
    p("")
    p("2. what travels through Ansible (JSON): gather result per cluster, plan task arguments and result, "
      "arguments of each writer task, all of it summed over the fleet")
    p(f"   {'clusters':>8} {'run':>6} {'gather KB/cl':>12} {'plan args MB':>12} {'plan result MB':>14} "
      f"{'writer args MB':>14} {'B/obj':>6} {'x base':>6} {'fleet total MB':>14}")
    for r in rows:
        p(f"   {r['clusters']:>8} {r['run']:>6} {r['gather_result_kb_per_cluster']:>12} {r['plan_args_mb']:>12} "
          f"{r['plan_result_mb']:>14} {r['writer_args_mb']:>14} {r['writer_args_bytes_per_object']:>6} "
          f"{x_base(r, 'writer_args_bytes_per_object'):>5}x {r['fleet_traffic_mb']:>14}")
    p("")
    p("3. one cluster's writer before it reads its cluster: decode its arguments, render_entries + "
      "render_destination_rules (best of 5/3/2, wall seconds; us/obj = CPU; peak = tracemalloc)")
    p(f"   {'clusters':>8} {'run':>6} {'obj/cl':>7} {'writer (s)':>10} {'us/obj':>7} {'x base':>6} {'peak MiB':>8}")
    for r in rows:
        p(f"   {r['clusters']:>8} {r['run']:>6} {r['objects_per_cluster']:>7} {r['writer_s']:>10} "
          f"{r['writer_us_per_object']:>7} {x_base(r, 'writer_us_per_object'):>5}x "
          f"{r['writer_peak_mib']:>8}")
    p("   select_exports over all clusters' Services (gather, in the clusters' modules): "
      + ", ".join(f"{n} clusters {s:.2f} s" for n, s in select_s.items()))
    p("")
    p("4. the fleet check (steady state): mesh_check's verdict on one cluster's .global names from the plan text "
      "(best of 5/3/2, wall seconds; us/host = CPU; peak = tracemalloc), and mesh_report as a process on the verify "
      "role's arguments (one description per cluster + the plan once): wall and CPU seconds, CPU us (net of its "
      f"{verify_startup:.2f} s on an empty fleet) and argument bytes per host + cluster, peak RSS")
    p(f"   {'clusters':>8} {'hosts':>6} {'check (s)':>9} {'us/host':>7} {'x base':>6} {'peak MiB':>8} "
      f"{'report (s)':>10} {'CPU s':>6} {'us/unit':>7} {'x base':>6} {'args MB':>7} {'B/unit':>6} {'x base':>6} "
      f"{'result MB':>9} {'RSS MiB':>7}")
    first_verify = verify_rows[0]
    for r in verify_rows:
        p(f"   {r['clusters']:>8} {r['hosts']:>6} {r['check_s']:>9} {r['check_us_per_host']:>7} "
          f"{ratio(r['check_us_per_host'], first_verify['check_us_per_host']):>5}x {r['check_peak_mib']:>8} "
          f"{r['report_s']:>10} {r['report_cpu_s']:>6} {r['report_us_per_unit']:>7} "
          f"{ratio(r['report_us_per_unit'], first_verify['report_us_per_unit']):>5}x {r['report_args_mb']:>7} "
          f"{r['report_args_bytes_per_unit']:>6} "
          f"{ratio(r['report_args_bytes_per_unit'], first_verify['report_args_bytes_per_unit']):>5}x "
          f"{r['report_result_mb']:>9} {r['report_peak_rss_mib']:>7}")
    p("")
    top = {r["run"]: r for r in rows if r["clusters"] == SIZES[-1]}
    p(f"goals ({SIZES[-1]} vs {SIZES[0]} clusters, per received object; within 1.2x is linear):")
    for label, key in (("plan time", "plan_us_per_object"), ("plan memory", "plan_peak_kb_per_object"),
                       ("module process time", "module_us_per_object"),
                       ("writer arguments", "writer_args_bytes_per_object"), ("writer time", "writer_us_per_object")):
        values = {run: ratio(top[run][key], base[run][key]) for run in top}
        p(f"   {label}: " + ", ".join(f"{run} {v}x" for run, v in values.items())
          + f" ({meets(all(v <= 1.2 for v in values.values()))})")
    for run, r in top.items():
        p(f"   plan of {r['clusters']} clusters, {run} run: plan() {r['plan_s']} s, peak {r['plan_peak_mib']} MiB "
          f"+ input {r['plan_input_in_memory_mib']} MiB (goal < 10 s and < 500 MB: "
          f"{meets(r['plan_s'] < 10 and (r['plan_peak_mib'] + r['plan_input_in_memory_mib']) * MIB < 500 * MB)}); "
          f"module process {r['module_s']} s, {r['module_peak_rss_mib']} MiB RSS "
          f"({meets(r['module_s'] < 10 and r['module_peak_rss_mib'] * MIB < 500 * MB)})")
    last_verify = verify_rows[-1]
    for label, key in (("fleet check time", "report_us_per_unit"), ("fleet check arguments", "report_args_bytes_per_unit")):
        value = ratio(last_verify[key], first_verify[key])
        p(f"   {label} per host + cluster: {value}x ({meets(0.8 <= value <= 1.2)})")
    p(f"   fleet check of {last_verify['clusters']} clusters: mesh_report {last_verify['report_s']} s, "
      f"{last_verify['report_peak_rss_mib']} MiB RSS (goal < 10 s and < 500 MB: "
      f"{meets(last_verify['report_s'] < 10 and last_verify['report_peak_rss_mib'] * MIB < 500 * MB)})")
    return printed(out)


def main() -> None:
    rows, verify_rows, select_s, startup, verify_startup = [], [], {}, module_startup(), report_startup()
    print(f"load at start: {load()}; module process on an empty fleet: {startup:.2f} CPU s", flush=True)
    for count in SIZES:
        if count % 2:
            raise SystemExit(f"FLEET_BENCH_SIZES: {count} is odd; partner clusters come in pairs")
        clusters, select_s[count] = gathered(count)
        first_row, first = measure_run("first", clusters, startup)
        steady_row, steady = measure_run("steady", read_back(clusters, first), startup)
        if steady["generation"] != first["generation"] or steady["allocations"] != first["allocations"]:
            raise SystemExit(f"{count} clusters: the second run changed the allocation; not a steady state")
        rows += [first_row, steady_row]
        verify_rows.append(measure_verify(count, to_text(steady), verify_startup))
    summary = report(rows, select_s, startup, verify_rows, verify_startup)
    print(f"load at end: {load()}")
    if "--profile" in sys.argv[1:]:
        profile = profile_steady(SIZES[-1])
        print("\n" + "\n".join(profile))
        summary += ["", *profile]
    save("fleet_plan", {"baseline": f"{SIZES[0]} clusters x {SERVICES} services", "rows": rows,
                        "verify_rows": verify_rows, "summary": summary})


if __name__ == "__main__":
    main()
