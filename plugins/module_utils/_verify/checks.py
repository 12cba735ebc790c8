# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge what the verify role read from every cluster: one report model for the fleet.

Each check of each cluster gets a status (pass, warn, fail, skip), a detail, and for anything
not passing the object concerned and the fix. The model is what report.py renders.
"""

from __future__ import annotations

import copy
import datetime
import functools

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revisions import version_window
from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.inventory import identity
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import from_text
from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import ImportView
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.flows import FleetFlows
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import LEGACY_REVISION, istiod_name
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import (
    BASE_RELEASE, CACERTS, GATEWAY, ISTIO_NAMESPACE, MANAGED_BY, MANAGED_BY_LABEL, ZONE_RECORDS)

CHECKS = [
    {"id": "root", "title": "Same root CA"},
    {"id": "intermediate", "title": "Intermediate CA"},
    {"id": "control_plane", "title": "Control plane"},
    {"id": "revisions", "title": "Revisions"},
    {"id": "gateway", "title": "Gateway address"},
    {"id": "dns", "title": ".global DNS"},
    {"id": "service_entries", "title": "ServiceEntries"},
    {"id": "destination_rules", "title": "DestinationRules"},
    {"id": "held_hosts", "title": "Held hosts"},
]
# Values the collection sets per cluster: not part of what must be identical.
PER_CLUSTER_VALUES = (("global", "multiCluster", "clusterName"), ("global", "network"))


def result(status, detail, obj=None, fix=None, step=None):
    """One check's verdict. step: the step of site.yml that writes what the check found missing or
    different (its playbook is the fix unless fix says more): in check mode, after that step ran
    without writing, such a failure is pending, not failed."""
    out = {"status": status, "detail": detail}
    if obj:
        out["object"] = obj
    if step:
        out["step"] = step
        fix = fix or "run playbooks/%s.yml" % step
    if fix:
        out["fix"] = fix
    return out


def _short(fingerprint):
    return (fingerprint or "none")[:23]


def _cacerts(namespace):
    return "Secret %s/%s" % (namespace, CACERTS)


def check_root(trust, root_fingerprint, namespace=ISTIO_NAMESPACE, istiod_roots=None, istiod=istiod_name(LEGACY_REVISION)):
    if not trust.get("exists"):
        return result("fail", "no cacerts Secret", _cacerts(namespace), step="trust")
    signer = trust.get("root_fingerprint")
    if root_fingerprint and signer != root_fingerprint:
        return result("fail", "intermediate signed by root %s, the mesh's root is %s" % (
            _short(signer), _short(root_fingerprint)), _cacerts(namespace), step="trust")
    if istiod_roots is not None and signer and signer not in istiod_roots:
        return result("fail", "istiod gives workloads root %s, not the root of cacerts %s: it started before the "
                      "Secret existed and runs a CA of its own" % (_short((istiod_roots or [""])[0]), _short(signer)),
                      "Deployment %s/%s" % (namespace, istiod), "run playbooks/control_plane.yml (it restarts istiod)",
                      "control_plane")
    return result("pass", "root %s" % _short(signer))


def check_intermediate(trust, warn_days, namespace=ISTIO_NAMESPACE, revoked_clusters=None):
    if not trust.get("exists"):
        return result("fail", "no intermediate CA", _cacerts(namespace), step="trust")
    if not trust.get("valid"):
        return result("fail", trust.get("reason") or ", ".join(trust.get("reasons") or []), _cacerts(namespace),
                      step="trust")
    if trust.get("crl_reasons"):
        return result("fail", "revocation: %s" % trust.get("crl_reason"), _cacerts(namespace),
                      "run playbooks/trust.yml -e mesh_ca_revocation=true (it writes the fleet's ca-crl.pem, renews "
                      "CRLs near expiry and waits for istiod to publish it)" if "not published" not in trust["crl_reasons"]
                      else "check istiod's log for 'Failed to update new Plug-in CA certs', then run playbooks/trust.yml",
                      "trust")
    days = (trust.get("intermediate") or {}).get("days_left")
    if days is not None and days < warn_days:
        return result("warn", "expires in %d days" % days, _cacerts(namespace),
                      "run playbooks/rotate.yml -e mesh_ca_rotate_phase=intermediates")
    return result("pass", "%s days left%s" % (days, crl_summary(trust.get("crl"), revoked_clusters)))


def crl_summary(crls, revoked_clusters=None):
    """The trust column's words on a cluster's ca-crl.pem: what the root's CRL revokes (each serial with
    the cluster it was issued to, from the revoked entries of the controller's record), its age and next update."""
    if not isinstance(crls, list) or not crls:
        return ""
    root = crls[0]
    names = {serial: entry["cluster"] for serial, entry in (revoked_clusters or {}).items()
             if isinstance(entry, dict) and entry.get("cluster")} if isinstance(revoked_clusters, dict) else {}
    revoked = ["%s %s" % (names[serial], serial) if serial in names else serial for serial in root.get("revoked") or []]
    return "; CRL %d day(s) old, next update %s (%s days), revoked: %s" % (
        root.get("age_days") or 0, root.get("next_update"), root.get("days_left"), ", ".join(revoked) or "none")


def _without(values, paths):
    values = copy.deepcopy(values)
    for path in paths:
        node = values
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return values


def control_plane_identity(check, istiod_release=istiod_name(LEGACY_REVISION)):
    release = (check.get("releases") or {}).get(istiod_release) or {}
    return identity(release.get("version"), _without(release.get("values") or {}, PER_CLUSTER_VALUES))


def check_control_plane(check, chart_version, releases, majority_identity, namespace=ISTIO_NAMESPACE,
                        istiod_release=istiod_name(LEGACY_REVISION)):
    present = check.get("releases") or {}
    missing = [name for name in releases if name not in present]
    if missing:
        return result("fail", "Helm release(s) %s not installed" % ", ".join(missing),
                      "%s/%s" % (namespace, missing[0]), step="control_plane")
    wrong = ["%s %s" % (name, present[name]["version"]) for name in releases
             if str(present[name]["version"]) != str(chart_version)]
    if wrong:
        return result("fail", "chart version differs from %s: %s" % (chart_version, ", ".join(wrong)),
                      "Helm releases in " + namespace, step="control_plane")
    if check.get("not_ready"):
        name, why = sorted(check["not_ready"].items())[0]
        return result("fail", "%s: %s" % (name, why), "Deployment %s/%s" % (namespace, name),
                      "check the Deployment's events and pods (kubectl -n %s describe deploy %s)" % (namespace, name))
    if majority_identity and control_plane_identity(check, istiod_release) != majority_identity:
        return result("warn", "istiod values differ from the rest of the fleet",
                      "Helm release %s/%s" % (namespace, istiod_release),
                      "align mesh_istio_values_override, then run playbooks/control_plane.yml")
    return result("pass", "Istio %s, ready" % chart_version)


def _webhook(dangling):
    return "%s %s" % (dangling.get("kind"), dangling.get("name"))


def check_revisions(info, window, cluster):
    """The control plane revisions of a cluster (mesh_check's `revisions`, as read_revisions reads
    them) against the fleet's version window (version_window over every cluster): a webhook calling
    a Service that does not exist fails (the API server refuses or skips what it guards: istio#28880,
    #43227), so does a cluster outside the window (the fleet stays within one minor of itself). A
    revision nothing uses is a note, not a problem: upgrade.yml removes it."""
    if info is None:
        return result("skip", "not read")
    dangling = info.get("dangling_webhooks") or []
    if dangling:
        first = dangling[0]
        return result("fail", "%d webhook(s) call a Service that does not exist: %s (webhook %s) calls Service %s%s" % (
            len(dangling), _webhook(first), first.get("webhook"), first.get("service"),
            "; also " + ", ".join(_webhook(d) for d in dangling[1:]) if len(dangling) > 1 else ""),
            _webhook(first), "the revision that served it is gone: point it at a revision that runs (playbooks/upgrade.yml "
            "moves our tags; -e mesh_upgrade_rollback=true returns a stopped upgrade) or delete it "
            "(docs/troubleshooting.md, Revisions)")
    window = window or {}
    unread = [why for why in window.get("unparsed") or [] if why.startswith(cluster + ": ")]
    if cluster in (window.get("outside") or []):
        return result("fail", "Istio versions of the fleet span %s to %s, more than one minor; outside the window: %s" % (
            window.get("min"), window.get("max"), ", ".join(window["outside"])),
            "istiod revisions of %s" % cluster,
            "bring %s within one minor of the rest of the fleet with playbooks/upgrade.yml" % ", ".join(window["outside"]))
    if unread:
        return result("warn", "version not understood, left out of the fleet's version window: %s"
                      % unread[0].split(": ", 1)[1], "istiod revisions of %s" % cluster)
    return result("pass", revisions_summary(info))


def revisions_summary(info):
    """One line: the revision the default tag serves, its version, and the revisions nothing uses."""
    revisions = info.get("revisions") or {}
    default = info.get("default_revision")
    line = "revision %s (%s)" % (default, (revisions.get(default) or {}).get("version") or "not installed") \
        if default else "no default revision"
    line += ", %d installed" % len(revisions) if len(revisions) > 1 else ""
    unused = unused_revisions(info)
    return line + ("; unused: %s (playbooks/upgrade.yml removes it)" % ", ".join(unused) if unused else "")


def unused_revisions(info):
    """Revisions installed that no tag, namespace, pod or gateway uses (read_revisions' in_use_by)."""
    return sorted(rev for rev, about in (info.get("revisions") or {}).items() if not about.get("in_use_by"))


def check_gateway(check, namespace=ISTIO_NAMESPACE, service=GATEWAY):
    gateway = check.get("gateway")
    if not gateway and service not in (check.get("releases") or {}):
        # The Service is part of the gateway's chart: not there because the chart is not installed.
        return result("fail", "no gateway: Helm release %s not installed" % service,
                      "Service %s/%s" % (namespace, service), step="control_plane")
    if not gateway:
        return result("fail", "the gateway Service has no address", "Service %s/%s" % (namespace, service),
                      "fix the cluster's load balancer, or set mesh_gateway_address_override")
    return result("pass", "%s:%s (%s)" % (gateway["address"], gateway["port"], gateway["source"]))


def expected_records(fleet_plan, cluster):
    """The .global records ({host: vip}) a cluster of the services plan holds: every allocation (the
    same in every cluster); none in a cluster the plan does not have."""
    return (fleet_plan.get("allocations") or {}) if cluster in (fleet_plan.get("gateways") or {}) else {}


def check_dns(records, answers, delegated, expected, namespace=ISTIO_NAMESPACE):
    """The .global DNS of one cluster (mesh_check judges it where it reads it): the zone server's
    records (None without its ConfigMap) and the cluster DNS's answers ({host: [addresses] or the
    error}) against the expected records; delegated: whether the cluster DNS delegates the zone
    (None: the sidecar proxy serves DNS)."""
    records_configmap = "ConfigMap %s/%s" % (namespace, ZONE_RECORDS)
    if delegated is False:
        return result("fail", "the cluster DNS does not delegate zone global to the zone server",
                      "cluster DNS ConfigMap in kube-system", step="dns")
    if records is None and expected:
        return result("fail", "the zone server has no records", records_configmap, step="services")
    wrong = sorted(host for host, vip in expected.items() if (records or {}).get(host) != vip)
    if wrong:
        return result("fail", "%d of %d records missing or wrong (%s)" % (len(wrong), len(expected), wrong[0]),
                      records_configmap, step="services")
    answers = answers or {}
    bad = sorted(host for host, got in answers.items() if got != [expected.get(host)])
    if bad:
        got = answers[bad[0]]
        return result("fail", "%d of %d names answered wrong: %s -> %s" % (len(bad), len(answers), bad[0], got),
                      "cluster DNS", "run playbooks/dns.yml, then check the zone server's pods", "dns")
    if delegated is None:
        return result("skip", "DNS served by the sidecar proxy")
    how = "answered by the cluster DNS" if answers else "in the zone server's records"
    return result("pass", "%d names %s" % (len(expected), how))


def check_services_set(counts, kind):
    """The service step's check-mode counts of one kind (ServiceEntries, DestinationRules) as a result."""
    if counts is None:
        return result("skip", "not checked")
    missing, different, extra = counts.get("created", 0), counts.get("updated", 0), counts.get("deleted", 0)
    if missing or different or extra:
        return result("fail", "%d missing, %d different, %d stale" % (missing, different, extra),
                      "%s labelled %s=%s" % (kind, MANAGED_BY_LABEL, MANAGED_BY),
                      step="services")
    return result("pass", "%d as desired" % counts.get("unchanged", 0))


def check_held_hosts(counts):
    """The hosts the services step left as they are in one cluster, from its check-mode result:
    held back by the plan (a bad value of their Service's owner; the same in every cluster) and
    skipped here (someone else's object clashes). A warning: the rest of the fleet converged."""
    if counts is None:
        return result("skip", "not checked")
    held, skipped = counts.get("held") or {}, counts.get("skipped") or {}
    if not held and not skipped:
        return result("pass", "none")
    left = ["%s (held back: %s)" % (host, "; ".join(why)) for host, why in sorted(held.items())]
    left += ["%s (skipped here: %s)" % (host, "; ".join(why)) for host, why in sorted(skipped.items())]
    return result("warn", "%d host(s) left as they are: %s" % (len(left), " | ".join(left)),
                  "ServiceEntries and DestinationRules of %s" % ", ".join(sorted(set(held) | set(skipped))),
                  "held back: fix the Service's ports or export-to annotation; skipped: remove the other object "
                  "that uses the host, name or VIP (docs/troubleshooting.md); then run playbooks/services.yml")


@functools.lru_cache(maxsize=65536)
def _locality_priority(client, endpoint):
    """Istio's locality priority of an endpoint for a client: 0 same region/zone/subzone, 1 same
    region/zone, 2 same region, 3 none (pilot's LbPriority). Cached: a fleet's report asks it for
    every multi-cluster host and every cluster, over a few localities."""
    mine, theirs = (client.split("/") + ["", ""])[:3], (endpoint.split("/") + ["", ""])[:3]
    for priority, depth in ((0, 3), (1, 2), (2, 1)):
        if mine[:depth] == theirs[:depth]:
            return priority
    return 3


def failover_order(client, exporters, localities, mode="locality"):
    """The order in which a client cluster's calls to a host move between its exporting clusters:
    a list of tiers (clusters of equal priority), as istiod orders the endpoints by locality. In an
    exporting cluster its own (local) endpoint has the cluster's locality. Without locality failover,
    or without a locality for the client, every exporter is one tier."""
    own = localities.get(client) or ""
    if mode != "locality" or not own:
        return [sorted(exporters)]
    tiers = {}
    for name in exporters:
        tiers.setdefault(_locality_priority(own, localities.get(name) or ""), []).append(name)
    return [sorted(tiers[p]) for p in sorted(tiers)]


def failover_orders(services, views, localities, mode="locality"):
    """For each host exported from several clusters: {cluster: failover_order} for every cluster
    that holds an entry for it, over the exporters it imports the host from.

    views: {cluster: import_selection.ImportView}."""
    orders = []
    for s in services:
        if len(s["clusters"]) > 1:
            held = {c: view.sources(s) for c, view in views.items()}
            orders.append({"host": s["host"], "orders": {c: failover_order(c, sources, localities, mode)
                                                         for c, sources in held.items() if sources}})
    return orders


# What to do about a malformed object, by the check it belongs to.
MALFORMED_FIX = {
    "root": "repair or delete it (istiod publishes it again), then run playbooks/verify.yml",
    "intermediate": "run playbooks/trust.yml (it re-issues a cacerts Secret it cannot read)",
    "control_plane": "repair or delete it, then run playbooks/control_plane.yml",
    "dns": "run playbooks/services.yml (it rewrites the records), or repair the line",
}


def malformed_findings(cluster, namespace=ISTIO_NAMESPACE):
    """[{check, object, problem}] of the objects of a cluster that could not be read: what mesh_check
    reported, and a cacerts Secret that ca_intermediate_info could not read (both trust checks)."""
    found = list((cluster.get("check") or {}).get("malformed") or [])
    trust = cluster.get("trust") or {}
    if "malformed" in (trust.get("reasons") or []):
        problem = (trust.get("reason") or "").replace("malformed: ", "", 1) or "cannot be read"
        found += [{"check": check, "object": _cacerts(namespace), "problem": problem}
                  for check in ("root", "intermediate")]
    return found


def judge(checks, findings):
    """{check id: result} of one cluster: each check run (a check that raises on what it was given
    fails alone, the others still run), then a malformed object fails the check it belongs to."""
    results = {}
    for check_id, (function, args) in checks.items():
        try:
            results[check_id] = function(*args)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            results[check_id] = result("fail", "could not judge what was read (%s: %s)" % (type(exc).__name__, exc))
    for finding in reversed(findings):  # the first finding of a check is the one shown
        if finding.get("check") in results:
            results[finding["check"]] = result("fail", "malformed: %s" % finding["problem"], finding["object"],
                                               MALFORMED_FIX.get(finding["check"]))
    return results


def pending(results, steps):
    """In check mode, after the steps of site.yml that ran without writing: a failure those steps
    would fix (its step is one of them) is pending, not failed."""
    for check_id, r in results.items():
        if r["status"] == "fail" and r.get("step") in steps:
            results[check_id] = dict(r, status="pending", detail="%s (check mode: %s.yml would write it)"
                                     % (r["detail"], r["step"]))
    return results


def fleet_window(clusters):
    """The fleet's version window over the chart version of every istiod revision of every cluster
    read (a cluster running two revisions counts both)."""
    return version_window({c["name"]: [about["version"] for about in
                                       (((c.get("check") or {}).get("revisions") or {}).get("revisions") or {}).values()
                                       if about.get("version")]
                           for c in clusters if c.get("reachable") and (c.get("check") or {}).get("revisions")})


def failed_checks(clusters, traces=()):
    """"<cluster>: <check id> (<detail>)" of every failed check of the judged clusters, in report order,
    then "trace <host> from <source>: hop <n> (<check>) in <cluster>" of every broken trace: the one count
    of failures (the model's ok, mesh_report's failed count and message, the verify role's failure).
    Warnings and pending checks are not failures."""
    return ["%s: %s (%s)" % (c["name"], check_id, r.get("detail")) for c in clusters
            for check_id, r in c["results"].items() if r["status"] == "fail"] + [
        "trace %s from %s: hop %d (%s) in %s" % (t["host"], t["source"], t["broken"]["hop"], t["broken"]["check"],
                                                 t["broken"]["cluster"]) for t in traces if t.get("broken")]


def dns_verdict(check):
    """The .global DNS check mesh_check judged in the cluster."""
    return check.get("dns") or result("skip", "not checked")


def evaluate(clusters, fleet, now=None):
    """clusters: what the verify role gathered per cluster; fleet: mesh-wide expectations.

    fleet.plan: the services plan as service_entry_plan hands it on (text), read once here for the
    exports, imports and failover of every cluster. fleet.traces: mesh_trace's traces of the hosts the
    check was asked to trace (a broken one is a failure of the report). fleet.pending_steps: in check mode, the steps of
    site.yml that ran before the check without writing (what they would write is pending, not
    failed); empty in a real run."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    # The fleet's usual control plane, from the clusters whose values could be read.
    # The fleet's istiod release: istiod-<revision> (fleet.revision), `istiod` without one.
    istiod_release = istiod_name(fleet.get("revision") or LEGACY_REVISION)
    identities = [control_plane_identity(c["check"], istiod_release) for c in clusters if c.get("reachable") and c.get("check")
                  and not any(f.get("check") == "control_plane" for f in c["check"].get("malformed") or [])]
    majority = max(set(identities), key=identities.count) if identities else None
    fleet_plan = from_text(fleet["plan"]) if fleet.get("plan") else {}
    services = fleet_plan.get("services") or []
    failover = (fleet_plan.get("policy") or {}).get("failover") or "locality"
    namespace = fleet.get("istio_namespace") or ISTIO_NAMESPACE
    pending_steps = set(fleet.get("pending_steps") or [])
    # What each cluster should hold under the plan's import selection.
    views = {c["name"]: ImportView(fleet_plan.get("selection"), c["name"]) for c in clusters}
    flows = FleetFlows(services, views)
    window = fleet_window(clusters)
    out = []
    for c in clusters:
        listed, imported = flows.imports(c["name"])
        entry = {"name": c["name"], "network": c.get("network"), "reachable": bool(c.get("reachable")),
                 "gateway": (c.get("check") or {}).get("gateway"),
                 "revisions": (c.get("check") or {}).get("revisions"),
                 "exports": flows.exports(c["name"]), "imports": listed, "imports_count": imported}
        if not c.get("reachable"):
            # One failure says why; the checks that could not run are skipped, not failed again.
            entry["results"] = {check["id"]: result("skip", "not checked: cluster unreachable") for check in CHECKS}
            entry["results"][CHECKS[0]["id"]] = result(
                "fail", "cluster unreachable: %s" % (c.get("error") or "no answer"), "Kubernetes API",
                "check the cluster's API server and the credentials in the inventory")
        else:
            check = c.get("check") or {}
            trust = c.get("trust") or {}
            entries = c.get("service_entries")
            entry["results"] = pending(judge({
                "root": (check_root, (trust, fleet.get("root_fingerprint"), namespace, check.get("istiod_roots"),
                                      istiod_release)),
                "intermediate": (check_intermediate, (trust, fleet.get("warn_days", 30), namespace,
                                                      fleet.get("revoked_clusters"))),
                "control_plane": (check_control_plane, (check, fleet.get("chart_version"),
                                                        fleet.get("releases", [BASE_RELEASE, istiod_release]),
                                                        majority, namespace, istiod_release)),
                "revisions": (check_revisions, (check.get("revisions"), window, c["name"])),
                "gateway": (check_gateway, (check, namespace, fleet.get("gateway_name") or GATEWAY)),
                "dns": (dns_verdict, (check,)),
                "service_entries": (check_services_set, (entries, "ServiceEntries")),
                "destination_rules": (check_services_set, ((entries or {}).get("destination_rules")
                                                           if entries is not None else None, "DestinationRules")),
                "held_hosts": (check_held_hosts, (entries,)),
            }, malformed_findings(c, namespace)), pending_steps)
        out.append(entry)
    traces = fleet.get("traces") or []
    return {
        "generated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mesh": {"mesh_id": fleet.get("mesh_id"), "trust_domain": fleet.get("trust_domain")},
        "ok": not failed_checks(out, traces),
        "pending": sum(1 for c in out for r in c["results"].values() if r["status"] == "pending"),
        "checks": CHECKS,
        "version_window": window,
        "clusters": out,
        "routes": [{"from": exporter, "to": importer, "count": count, "hosts": hosts}
                   for (exporter, importer), (count, hosts) in flows.routes([c["name"] for c in clusters]).items()],
        "failover": {"mode": failover,
                     "services": failover_orders(services, views,
                                                 {name: (gateway or {}).get("locality") or ""
                                                  for name, gateway in (fleet_plan.get("gateways") or {}).items()},
                                                 failover)},
        "traces": traces,
    }
