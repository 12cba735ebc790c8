"""Sample models for the fleet report tests (the shape documented in plugins/module_utils/_verify/report.py),
with the checks the fleet check runs (_verify/checks.py), not a copy of them."""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import CHECKS

# The detail of each check when it passes: one for every check the fleet check runs (a KeyError
# in sample() says which one a new check lacks).
PASS = {"root": "sha256 ab12\u2026 on every cluster", "intermediate": "valid for 340 days",
        "control_plane": "istiod 1.29.0 ready", "revisions": "revision 1-29-0 (1.29.0)", "gateway": "LoadBalancer IP", "dns": "reviews.shop.global answers",
        "service_entries": "matches the inventory", "destination_rules": "12 as desired", "held_hosts": "none"}


def revisions(current: str = "1-29-0", old: str = "", pods: int = 4, old_pods: int = 0) -> dict:
    """What read_revisions reads of a cluster: every tag and the gateway on current, with old
    installed beside it (used by old_pods pods) when given."""
    installed = {current: {"release": "istiod-" + current, "version": current.replace("-", "."), "ready": True,
                           "service": True, "in_use_by": ["tag default", "tag stable", "%d pods" % pods]}}
    if old:
        installed[old] = {"release": "istiod-" + old, "version": old.replace("-", "."), "ready": True, "service": True,
                          "in_use_by": ["%d pods" % old_pods] if old_pods else []}
    return {"revisions": installed,
            "tags": {tag: {"revision": current, "ours": True} for tag in ("default", "stable")},
            "default_revision": current,
            "gateway": {"name": "istio-eastwestgateway", "revision": current, "ready": True},
            "namespaces": {"bar": "default", "shop": "stable"},
            "pods": {rev: n for rev, n in ((current, pods), (old, old_pods)) if n},
            "dangling_webhooks": []}


def cluster(i: int, exports: list[str], imports: list[dict], revs: dict | None = None, **problems) -> dict:
    results = {check["id"]: {"status": "pass", "detail": PASS[check["id"]]} for check in CHECKS}
    results.update(problems)
    return {"name": "cluster%d" % i, "network": "network%d" % i, "reachable": True,
            "gateway": {"address": "127.141.%d.1" % i, "port": 15443},
            "exports": exports, "imports": imports, "results": results, "revisions": revs or revisions()}


def routes(members: list[dict], shown: int = 10) -> list[dict]:
    """The model's routes, from the sample clusters' (whole) import lists."""
    found: dict[tuple[str, str], list[str]] = {}
    for member in members:
        for imported in member["imports"]:
            for source in imported["from"]:
                found.setdefault((source, member["name"]), []).append(imported["host"])
    return [{"from": source, "to": target, "count": len(hosts), "hosts": hosts[:shown]}
            for (source, target), hosts in found.items()]


def sample(clusters: int = 3, services: int = 0) -> dict:
    """Three clusters (healthy, one warning, one failure) that import each other's services, in an
    upgrade from revision 1-29-0 to 1-30-0 (cluster1 done, cluster2 with pods still on 1-29-0,
    cluster3 with 1-29-0 left unused); with clusters/services, a larger fleet where every cluster
    exports services/clusters services."""
    if clusters == 3 and not services:
        members = [
            cluster(1, ["httpbin.bar", "web.shop"], [{"host": "reviews.shop.global", "from": ["cluster2"]},
                                                     {"host": "ratings.shop.global", "from": ["cluster2", "cluster3"]}],
                    revisions("1-30-0")),
            cluster(2, ["reviews.shop", "ratings.shop"], [{"host": "httpbin.bar.global", "from": ["cluster1"]}],
                    revisions("1-30-0", "1-29-0", pods=1, old_pods=3),
                    intermediate={"status": "warn", "detail": "expires in 20 days",
                                  "object": "Secret istio-system/cacerts", "fix": "run playbooks/rotate.yml"}),
            cluster(3, ["ratings.shop", "details.shop", "cart.shop", "checkout.shop", "payments.shop"],
                    [{"host": "web.shop.global", "from": ["cluster1"]},
                     {"host": "reviews.shop.global", "from": ["cluster2"]}],
                    revisions("1-30-0", "1-29-0"),
                    dns={"status": "fail", "detail": "reviews.shop.global: NXDOMAIN from 10.96.0.10",
                         "object": "ConfigMap kube-system/coredns",
                         "fix": "run playbooks/dns.yml --limit cluster3"}),
        ]
        ok = False
    else:
        per = max(services // clusters, 1) if services else 2
        members = []
        for i in range(1, clusters + 1):
            exports = ["svc%03d.ns%d" % (j, i) for j in range(per)]
            imports = [{"host": "svc%03d.ns%d.global" % (j, o), "from": ["cluster%d" % o]}
                       for o in range(1, clusters + 1) if o != i for j in range(per)]
            members.append(cluster(i, exports, imports))
        ok = True
    return {"generated": "2026-11-21T23:00:00Z", "mesh": {"mesh_id": "mesh1", "trust_domain": "cluster.local"},
            "ok": ok, "checks": [dict(check) for check in CHECKS], "clusters": members, "routes": routes(members),
            "version_window": {"ok": True, "min": "1.29", "max": "1.30" if clusters == 3 and not services else "1.29",
                               "outside": [], "unparsed": []}}
