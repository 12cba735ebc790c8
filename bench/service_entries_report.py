"""bench/service_entries' report: the figures of its runs read back (best of the repeats, the
slowest cluster's module, request counts) and printed as sections 1 to 7 (the whole protocol on
one lab size) and 8 (the lab sizes of issue 15). Pure formatting: bench/service_entries.py measures."""

from __future__ import annotations

from .common import meets, peak_memory_lines, printed, ratio


def cluster_names(count: int) -> tuple[str, ...]:
    """The bench lab's clusters, as `python -m lab up --clusters <count>` names them."""
    return tuple(f"cluster{i}" for i in range(1, count + 1))


def total(counts: dict, kind: str, resources: tuple[str, ...] = ("serviceentries", "destinationrules")) -> int:
    return sum(n for c in counts.values() for k, n in c[kind].items()
               if not resources or k.split(" ", 1)[1] in resources)


def module_seconds(run: dict, module: str = "service_entry") -> dict[str, float]:
    return {k.split("@")[1]: v["seconds"] for k, v in run["modules"].items() if k.startswith(module + "@")}


def best(runs: list[dict]) -> dict:
    """The least disturbed of repeated measurements (the machine is shared)."""
    return min(runs, key=lambda run: run["seconds"])


def slowest_module(run: dict) -> float:
    return max(module_seconds(run).values(), default=0.0)  # 0: the modules ran in Ansible's workers


def report(clusters: tuple[str, ...], cycles: dict[int, list[dict]], change: dict, k8s: dict) -> list[str]:
    """The whole protocol of issue 6 on one lab size (sections 1 to 7); the sizes of Services are the
    keys of `cycles`, the last one the main measurement."""
    size = list(cycles)[-1]
    main = cycles[size]
    first, noop = best([c["first"] for c in main]), best([c["noop"] for c in main])
    kube, rekube = best([c["kubectl"]["apply"] for c in main]), best([c["kubectl"]["reapply"] for c in main])

    def all_runs(step: str) -> list[float]:
        return [c[step]["seconds"] for c in main]

    ours_rate = first["entries_written"] / first["seconds"]
    module_first = module_seconds(first)
    objects = 2 * size * len(clusters)  # per cluster: ServiceEntries and as many DestinationRules
    module_rate = {c: objects / s for c, s in module_first.items()}
    peak = max((v["rss_mib"] for run in [*(c[step] for c in main for step in ("first", "noop")), change]
               for k, v in run["modules"].items() if k.startswith("service_entry@")), default=0)
    out: list[str] = []
    p = out.append
    p(f"fleet: {len(clusters)} clusters x {size} exported Services (2 ports each) -> {size * len(clusters)} "
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
             for c in clusters}
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
    for count in cycles:
        f, n = best([c["first"] for c in cycles[count]]), best([c["noop"] for c in cycles[count]])
        base = base or (f, n)
        per_entry = (slowest_module(f) - slowest_module(n)) / (2 * count * len(clusters)) * 1000
        p(f"   {count:>6} {2 * count * len(clusters):>6} {f['seconds']:>9} {ratio(f['seconds'], base[0]['seconds']):>4}x "
          f"{slowest_module(f):>6} {per_entry:>6.1f} ms {n['seconds']:>9} {ratio(n['seconds'], base[1]['seconds']):>4}x "
          f"{slowest_module(n):>6} {n['cpu_s']['modules'] + n['cpu_s']['ansible_controller']:>7.1f} s  "
          f"{[c['first']['seconds'] for c in cycles[count]]} / "
          f"{[c['noop']['seconds'] for c in cycles[count]]}")
    return printed(out)


def growth(rows: list[dict], key: str) -> list[str]:
    """Per added cluster: the change of rows[i][key] from the size before, divided by the clusters added."""
    out = [""]
    for before, after in zip(rows, rows[1:]):
        out.append(f"{(after[key] - before[key]) / (after['clusters'] - before['clusters']):+.1f}")
    return out


def latency_goals(row: dict) -> str:
    """Issue 26: first run and no-op against kubectl through the same latency proxies (or on loopback)."""
    if not row["kubectl"]:
        return f"issue 26 at {row['clusters']} clusters: no kubectl baseline in this run"
    first, noop = ratio(row["first_s"], row["kubectl"]), ratio(row["noop_s"], row["kubectl_reapply"])
    where = f"{row['latency_ms']} ms round trip" if row["latency_ms"] else "loopback"
    first_goal = 0.3 if row["latency_ms"] else 1.0
    line = (f"issue 26 at {row['clusters']} clusters, {where}"
            + (f", mesh_k8s_max_in_flight={row['max_in_flight']}" if row["max_in_flight"] else "")
            + f": first run {row['first_s']} s / kubectl apply --server-side {row['kubectl']} s = {first}x "
            f"(goal <= {first_goal}x: {meets(first <= first_goal)}); no-op {row['noop_s']} s / kubectl re-apply "
            f"{row['kubectl_reapply']} s = {noop}x")
    if row["latency_ms"]:
        line += f" (goal <= 0.2x: {meets(noop <= 0.2)})"
    return line + f"; no-op writes {row['noop_writes']}"


def fleet_report(sizes: list[dict], size: int, baseline: int) -> list[str]:
    """Issue 15: the same step on labs of several sizes at `size` Services per cluster, against `baseline` clusters."""
    rows = []
    for result in sizes:
        cycles = result["cycles"][size]
        first, noop = best([c["first"] for c in cycles]), best([c["noop"] for c in cycles])
        clusters = cluster_names(result["clusters"])
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
            "module_rss": max((v["rss_mib"] for run in (first, noop) for k, v in run["modules"].items()
                               if k.startswith("service_entry@")), default=0),
            "plan_rss": max((v["rss_mib"] for run in (first, noop) for k, v in run["modules"].items()
                             if k.startswith("service_entry_plan@")), default=0),
            "kubectl": best([k["apply"] for k in kube])["seconds"] if kube else None,
            "kubectl_reapply": best([k["reapply"] for k in kube])["seconds"] if kube else None,
            "latency_ms": result.get("latency_ms", 0), "max_in_flight": result.get("max_in_flight"),
            # our first run / kubectl's, in the same cycle (same lab, same load)
            "paired": [ratio(c["first"]["seconds"], c["kubectl"]["apply"]["seconds"]) for c in cycles if "kubectl" in c],
            "client_ms": 1000 * (first["cpu_s"]["modules"] + first["cpu_s"]["ansible_controller"]) / first["entries_written"],
            "lab_ms": 1000 * sum(first["lab_cpu_s"].values()) / first["entries_written"],
            "lab_cpu_ms": {k: round(1000 * v / first["entries_written"], 1) for k, v in first["lab_cpu_s"].items()},
            "change_ok": all(c["writes"] == {"patch serviceentries": 1} for c in change.values()),
            "all_first": [c["first"]["seconds"] for c in cycles], "all_noop": [c["noop"]["seconds"] for c in cycles]})
    base = next((r for r in rows if r["clusters"] == baseline), rows[0])
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
    for r in rows:
        p("   " + latency_goals(r))
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
    return printed(out)
