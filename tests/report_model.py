"""Sample models for the fleet report tests (the shape documented in plugins/module_utils/_verify/report.py),
with the checks the fleet check runs (_verify/checks.py), not a copy of them."""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import CHECKS

# The detail of each check when it passes: one for every check the fleet check runs (a KeyError
# in sample() says which one a new check lacks).
PASS = {"root": "sha256 ab12\u2026 on every cluster", "intermediate": "valid for 340 days",
        "control_plane": "istiod 1.29.0 ready", "gateway": "LoadBalancer IP", "dns": "reviews.shop.global answers",
        "service_entries": "matches the inventory", "destination_rules": "12 as desired", "held_hosts": "none"}


def cluster(i: int, exports: list[str], imports: list[dict], **problems) -> dict:
    results = {check["id"]: {"status": "pass", "detail": PASS[check["id"]]} for check in CHECKS}
    results.update(problems)
    return {"name": "cluster%d" % i, "network": "network%d" % i, "reachable": True,
            "gateway": {"address": "127.141.%d.1" % i, "port": 15443},
            "exports": exports, "imports": imports, "results": results}


def sample(clusters: int = 3, services: int = 0) -> dict:
    """Three clusters (healthy, one warning, one failure) that import each other's services; with
    clusters/services, a larger fleet where every cluster exports services/clusters services."""
    if clusters == 3 and not services:
        members = [
            cluster(1, ["httpbin.bar", "web.shop"], [{"host": "reviews.shop.global", "from": ["cluster2"]},
                                                     {"host": "ratings.shop.global", "from": ["cluster2", "cluster3"]}]),
            cluster(2, ["reviews.shop", "ratings.shop"], [{"host": "httpbin.bar.global", "from": ["cluster1"]}],
                    intermediate={"status": "warn", "detail": "expires in 20 days",
                                  "object": "Secret istio-system/cacerts", "fix": "run playbooks/rotate.yml"}),
            cluster(3, ["ratings.shop", "details.shop", "cart.shop", "checkout.shop", "payments.shop"],
                    [{"host": "web.shop.global", "from": ["cluster1"]},
                     {"host": "reviews.shop.global", "from": ["cluster2"]}],
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
            "ok": ok, "checks": [dict(check) for check in CHECKS], "clusters": members}
