# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an upgrade of one cluster's control plane still has to do, decided from what the cluster runs.

playbooks/upgrade.yml takes each cluster from the revision it runs to the inventory's revision
through fixed phases. Every decision here is made from what mesh_revision_info read of the cluster
(revisions, tags, the gateway's revision, what uses each revision), never from a memory of an
earlier run: a run that stopped anywhere resumes where the cluster stands, and a cluster that is
done is left alone. Pure functions over that result (see _control_plane/revisions.py for its shape).
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    DEFAULT_TAG, LEGACY_REVISION)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import ImportView
from ansible_collections.meshops.multicluster.plugins.module_utils._verify import checks

# The phases of one cluster, in order (mesh_upgrade_stop_after names one of them; the role's
# argument_specs.yml offers the same, held to these by a unit test).
PHASES = ("precheck", "base", "istiod", "canary_tag", "gateway", "tags", "gates", "cleanup")
# The gates the upgrade checks after the tags moved; a failure names one of them.
GATES = ("istiod_ready", "injection", "validation", "webhooks", "gateway", "fleet_check", "importers")
# How the east-west gateway moves to the new revision (mesh_upgrade_gateway_strategy).
GATEWAY_STRATEGIES = ("in_place", "canary")


def _revisions(info):
    return info.get("revisions") or {}


def previous_revision(info, target):
    """The revision the cluster moves away from: the one the default tag serves while it is not
    `target`; else the one other revision installed beside it; None when there is none, or when
    several are and none is the default (the caller says which it needs)."""
    revisions = _revisions(info)
    others = sorted(rev for rev in revisions if rev != target)
    default = info.get("default_revision")
    if default in others:
        return default
    gateway = (info.get("gateway") or {}).get("revision")
    if gateway in others:
        return gateway
    return others[0] if len(others) == 1 else None


def _tag_revision(info, tag, fallback):
    return ((info.get("tags") or {}).get(tag) or {}).get("revision") or fallback


def _served_by_tags(tags):
    """The tags to write: a tag served by an istiod installed without a revision is left out, since
    that istiod's own injector serves `istio-injection=enabled` (and the default tag's selectors)."""
    return {tag: rev for tag, rev in tags.items() if rev != LEGACY_REVISION}


def running_version(info):
    """The chart version of the revision the default tag serves (else of every revision installed)."""
    revisions = _revisions(info)
    default = revisions.get(info.get("default_revision") or "")
    if default:
        return [default.get("version")]
    return sorted({rev.get("version") for rev in revisions.values() if rev.get("version")})


def pinned_namespaces(info, target, tag_names):
    """Namespaces whose istio.io/rev label names a revision other than `target` (not a tag: tags
    move with the upgrade). They keep that revision in use until relabelled."""
    tags = {tag_names["stable"], tag_names["canary"], DEFAULT_TAG}
    return {namespace: pin for namespace, pin in sorted((info.get("namespaces") or {}).items())
            if pin != target and pin not in tags}


def is_done(info, target, chart_version, tag_names):
    """Whether the cluster runs `target` alone, at `chart_version`, every tag and the gateway on it."""
    revisions = _revisions(info)
    return (set(revisions) == {target}
            and str(revisions[target].get("version")) == str(chart_version)
            and revisions[target].get("ready", False)
            and info.get("default_revision") == target
            and all(_tag_revision(info, tag, None) == target for tag in (DEFAULT_TAG, tag_names["stable"], tag_names["canary"]))
            and (info.get("gateway") or {}).get("revision") == target
            and not info.get("gateway_canaries")
            and not info.get("dangling_webhooks"))


def _phase(name, todo, what):
    return {"name": name, "todo": bool(todo), "what": what}


def _istiod_step(current, in_place, target, chart_version, old):
    if not current:
        return "install istiod-%s (chart %s) beside %s" % (target, chart_version, ", ".join(old))
    if in_place:
        return "upgrade istiod-%s in place to chart %s (same revision name: a patch release)" % (target, chart_version)
    return "istiod-%s runs chart %s" % (target, chart_version)


def canary_gateway_names(info):
    """The canary gateway releases the cluster runs (left behind by an upgrade that stopped)."""
    return [canary["name"] for canary in info.get("gateway_canaries") or []]


def gateway_step(info, target, strategy, in_place):
    """How the gateway phase moves the east-west gateway to `target`: {todo, canary (the release to
    run first behind the same Service, or None), remove (canary releases to uninstall), what}."""
    if strategy not in GATEWAY_STRATEGIES:
        raise MeshError("mesh_upgrade_gateway_strategy=%s: expected one of %s" % (strategy, ", ".join(GATEWAY_STRATEGIES)),
                        fix="set mesh_upgrade_gateway_strategy to in_place or canary")
    gateway = info.get("gateway") or {}
    name = gateway.get("name", "gateway")
    moves = gateway.get("revision") != target or in_place
    canary = "%s-%s" % (name, target) if strategy == "canary" and moves else None
    remove = sorted(set(canary_gateway_names(info)) | ({canary} if canary else set()))
    if canary:
        what = ("canary gateway %s on revision %s behind the same Service, then gateway %s -> %s in place, then %s "
                "removed" % (canary, target, name, target, canary))
    else:
        what = "gateway %s -> revision %s (in place: same Deployment and Service, so the same address)" % (name, target)
    if remove and not canary:
        what += "; canary gateway(s) %s removed" % ", ".join(remove)
    return {"todo": moves or bool(remove), "canary": canary, "remove": remove, "what": what}


def upgrade_plan(info, target, chart_version, tag_names, cluster="cluster", gateway_strategy="in_place"):
    """What the upgrade of one cluster to revision `target` (chart `chart_version`) does, phase by phase.

    info: mesh_revision_info's result; tag_names: mesh_istio_tags ({stable, canary}). Raises
    MeshError when the cluster runs no control plane at all (site.yml installs one)."""
    revisions = _revisions(info)
    if not revisions:
        raise MeshError("%s: no istiod runs in the cluster, so there is nothing to upgrade: install the control plane "
                        "with playbooks/site.yml (or control_plane.yml) first" % cluster,
                        fix="run playbooks/site.yml")
    previous = previous_revision(info, target)
    current = revisions.get(target) or {}
    old = sorted(rev for rev in revisions if rev != target)
    default_now = info.get("default_revision") or previous or target
    canary_tags = {DEFAULT_TAG: _tag_revision(info, DEFAULT_TAG, default_now),
                   tag_names["stable"]: _tag_revision(info, tag_names["stable"], previous or target),
                   tag_names["canary"]: target}
    final_tags = {DEFAULT_TAG: target, tag_names["stable"]: target, tag_names["canary"]: target}
    in_place = previous is None and str(current.get("version")) != str(chart_version)
    pinned = pinned_namespaces(info, target, tag_names)
    gateway_move = gateway_step(info, target, gateway_strategy, in_place)
    phases = [
        _phase("precheck", True, "the fleet stays within one minor once this cluster runs %s; the chart exists; the "
                                 "webhooks of %s answer" % (chart_version, previous or target)),
        _phase("base", True, "istio-base at chart %s (Istio's CRDs), defaultRevision stays %s" % (chart_version, default_now)),
        _phase("istiod", not current or in_place or not current.get("ready"),
               _istiod_step(current, in_place, target, chart_version, old)),
        _phase("canary_tag", _tag_revision(info, tag_names["canary"], None) != target,
               "tag %s -> %s" % (tag_names["canary"], target)),
        _phase("gateway", gateway_move["todo"], gateway_move["what"]),
        _phase("tags", any(_tag_revision(info, tag, None) != rev for tag, rev in final_tags.items())
               or info.get("default_revision") != target,
               "tags %s -> %s; istio-base defaultRevision -> %s (istiod-default-validator -> istiod-%s)"
               % (", ".join(sorted(final_tags)), target, target, target)),
        _phase("gates", True, "istiod-%s Ready, its injection and validation webhooks answer, no webhook without its "
                              "Service, the gateway on %s, the cluster's check" % (target, target)),
        _phase("cleanup", bool(old), "remove %s once nothing uses it (re-checked after the grace period)"
               % (", ".join(old) if old else "nothing")),
    ]
    return {
        "target": target,
        "previous": previous,
        "old_revisions": old,
        "in_place": in_place,
        "done": is_done(info, target, chart_version, tag_names),
        "running_versions": running_version(info),
        "base_default_revision": default_now,
        "canary_tags": _served_by_tags(canary_tags),
        "final_tags": final_tags,
        "pinned_namespaces": pinned,
        "gateway": {"canary": gateway_move["canary"], "remove": gateway_move["remove"]},
        "phases": phases,
    }


def window_problem(window, cluster, chart_version):
    """The precheck's words for a version window (revisions.version_window) that is not ok, or None."""
    if window.get("ok"):
        return None
    reasons = []
    if window.get("outside"):
        reasons.append("cluster(s) %s would run more than one minor from the fleet's newest (%s)"
                       % (", ".join(window["outside"]), window.get("max")))
    reasons += window.get("unparsed") or []
    return ("%s: upgrading it to chart %s would leave the fleet outside one minor of itself: %s. Upgrade one minor at "
            "a time, and the clusters left behind first" % (cluster, chart_version, "; ".join(reasons)))


def fleet_versions_after(versions_by_cluster, cluster, chart_version):
    """The fleet's versions once `cluster` runs `chart_version` ({cluster: [versions]})."""
    after = dict(versions_by_cluster)
    after[cluster] = [chart_version]
    return after


def _in_use(info, revision):
    """Why `revision` may not go yet: what mesh_revision_info says uses it, and istio-base's default."""
    reasons = list((_revisions(info).get(revision) or {}).get("in_use_by") or [])
    if info.get("default_revision") == revision and not any(reason.startswith("tag ") for reason in reasons):
        reasons.append("istio-base defaultRevision")
    return reasons


def removal(first, second, target):
    """Which old revisions may be removed: unused in both reads (`second` after the grace period),
    and what keeps the others: {"remove": [rev], "kept": {rev: [reasons]}}."""
    remove, kept = [], {}
    for revision in sorted(rev for rev in _revisions(second) if rev != target):
        reasons = _in_use(second, revision)
        if not reasons and revision in _revisions(first):
            reasons = ["%s (at the start of the grace period)" % reason for reason in _in_use(first, revision)]
        if reasons:
            kept[revision] = reasons
        else:
            remove.append(revision)
    return {"remove": remove, "kept": kept}


def gate_failures(info, target, check=None, gateway_address=None, gates=GATES):
    """The gates of `gates` the cluster fails for revision `target`: [{"gate", "evidence"}].

    info: mesh_revision_info with probe_revisions [target]; check: mesh_check of the cluster;
    gateway_address: the gateway's address before the upgrade (the other clusters route to it)."""
    failures = []

    def fail(gate, evidence):
        failures.append({"gate": gate, "evidence": evidence})

    revision = _revisions(info).get(target)
    if not revision:
        fail("istiod_ready", "revision %s is not installed" % target)
    elif not (revision.get("ready") and revision.get("service")):
        fail("istiod_ready", "istiod-%s: ready=%s, Service exists=%s" % (target, revision.get("ready"), revision.get("service")))
    probes = (info.get("probes") or {}).get(target) or {}
    for gate in ("injection", "validation"):
        probe = probes.get(gate) or {"ok": False, "message": "not probed"}
        if not probe.get("ok"):
            fail(gate, "the API server's call of istiod-%s's %s webhook: %s" % (target, gate, probe.get("message")))
    dangling = info.get("dangling_webhooks") or []
    if dangling:
        fail("webhooks", "; ".join("%s %s (webhook %s) points at Service %s, which does not exist"
                                   % (hook.get("kind"), hook.get("name"), hook.get("webhook"), hook.get("service"))
                                   for hook in dangling))
    gateway = info.get("gateway") or {}
    if gateway.get("revision") != target or not gateway.get("ready"):
        fail("gateway", "gateway %s: revision %s, ready=%s" % (gateway.get("name"), gateway.get("revision"),
                                                               gateway.get("ready")))
    if check is not None:
        not_ready = check.get("not_ready") or {}
        if not_ready:
            fail("fleet_check", "; ".join("%s: %s" % item for item in sorted(not_ready.items())))
        address = (check.get("gateway") or {}).get("address")
        if gateway_address and address != gateway_address:
            fail("fleet_check", "the gateway's address changed from %s to %s: the other clusters' ServiceEntries "
                                "send this cluster's hosts to %s" % (gateway_address, address, gateway_address))
    return [failure for failure in failures if failure["gate"] in gates]


def gate_message(cluster, target, failures):
    """Why the rollout stopped at this cluster: each failed gate with its evidence, and what to do."""
    return ("%s: the upgrade to revision %s stopped at gate(s) %s. %s. The clusters not reached yet are untouched. "
            "Fix the cause and run upgrade.yml again (it resumes from what the cluster runs), or return this cluster "
            "to its previous revision with -e mesh_upgrade_rollback=true (docs/operations.md, When a gate fails)"
            % (cluster, target, ", ".join(sorted({f["gate"] for f in failures}, key=GATES.index)),
               "; ".join("%s: %s" % (f["gate"], f["evidence"]) for f in failures)))


def rollback_plan(info, target, tag_names, cluster="cluster"):
    """How to return a cluster whose upgrade to `target` stopped to its previous revision.

    {"needed": False, "message"} when the cluster does not run `target`; raises MeshError when it
    runs `target` alone (the previous revision is gone) or several revisions besides it."""
    revisions = _revisions(info)
    if target not in revisions:
        return {"needed": False, "message": "%s does not run revision %s: nothing to roll back" % (cluster, target)}
    others = sorted(rev for rev in revisions if rev != target)
    if not others:
        raise MeshError("%s: cannot roll back from revision %s: no previous revision is installed any more (it was "
                        "removed once nothing used it). To go back, set mesh_istio_revision (and the chart) to the "
                        "revision you want and run upgrade.yml" % (cluster, target),
                        fix="upgrade to the revision you want instead")
    previous = previous_revision(info, target)
    if previous is None:
        raise MeshError("%s: cannot tell which revision to roll back to: %s run beside %s. Remove the one you do not "
                        "want first, or upgrade to the one you want" % (cluster, ", ".join(others), target))
    tags = {DEFAULT_TAG: previous, tag_names["stable"]: previous, tag_names["canary"]: previous}
    canaries = canary_gateway_names(info)
    return {"needed": True, "previous": previous, "remove": target, "tags": _served_by_tags(tags),
            "remove_gateways": canaries,
            "message": "%s: back to revision %s: istio-base defaultRevision and tags %s -> %s, gateway -> %s%s, "
                       "istiod-%s removed" % (cluster, previous, ", ".join(sorted(tags)), previous, previous,
                                              " (canary gateway %s removed)" % ", ".join(canaries) if canaries else "",
                                              target)}


def importers(fleet_plan, cluster, dns_records=True):
    """The clusters that hold an entry for a host `cluster` exports, routed through its gateway, under
    the services plan's import selection: [{"name", "hosts", "records"}] (records: host -> VIP, the
    .global records the importer's zone server must hold; empty without dns_records)."""
    found = {}
    for service in fleet_plan.get("services") or []:
        if cluster not in service["clusters"]:
            continue
        for other in sorted(fleet_plan.get("gateways") or {}):
            if other != cluster and cluster in ImportView(fleet_plan.get("selection"), other).sources(service):
                found.setdefault(other, []).append(service["host"])
    allocations = fleet_plan.get("allocations") or {}
    return [{"name": importer, "hosts": sorted(hosts),
             "records": {host: allocations[host] for host in sorted(hosts) if dns_records and host in allocations}}
            for importer, hosts in sorted(found.items())]


def importer_gate(importers_checked, cluster, target):
    """Judge the importers of `cluster` from the upgrade role's two loops over them (mesh_check and
    the service_entry module in check mode, each item one of importers()): {ok, failures, message}."""
    failures = []
    for check, entries in importers_checked:
        importer = check["item"]
        failures += importer_failures(importer["name"], check, entries)
    return {"ok": not failures, "failures": failures,
            "message": gate_message(cluster, target, failures) if failures else ""}


def importer_failures(importer, check, entries):
    """The fleet check of one importing cluster, as verify judges it: its ServiceEntries and
    DestinationRules as the plan has them (so still naming the exporter's gateway address), its
    .global records (and the DNS answers, when asked) for the exporter's hosts as mesh_check judged
    them, and the Deployments mesh_check was given Available. [{"gate": "importers", "evidence"}]: one per failed check."""
    results = {
        "service_entries": checks.check_services_set(entries, "ServiceEntries"),
        "destination_rules": checks.check_services_set((entries or {}).get("destination_rules"), "DestinationRules"),
        "dns": checks.dns_verdict(check),
    }
    failures = ["%s: %s (%s)" % (name, r["detail"], r["object"]) if r.get("object") else "%s: %s" % (name, r["detail"])
                for name, r in results.items() if r["status"] == "fail"]
    failures += ["%s: %s" % item for item in sorted((check.get("not_ready") or {}).items())]
    return [{"gate": "importers", "evidence": "importer %s: %s" % (importer, failure)} for failure in failures]
