"""playbooks/upgrade.yml on the lab's 3 clusters and their real istiods: revision by revision,
canary first, gated, resumable, with rollback.

A is the inventory's revision (what site.yml installs: lab.revision). B and C are two other
revision names of the same Istio build: the lab builds one Istio (lab/versions.toml), and a second
build of another minor would double the lab's build time, over the CI budget. What a revision
changes - its own istiod, Service, webhooks, ConfigMaps and Helm release beside the other's - is
the same either way; a chart version change is the base and istiod phases' helm upgrade, which
the control plane tests already cover.

The module leaves the fleet as the other modules expect it: at A (the fixture `fleet` upgrades
back to A at the end, whatever failed), so the modules stay independent of their order and of -k.
"""

from __future__ import annotations

import json
import re

import pytest

from lab.istio_tools import xds

ISTIO_NAMESPACE, GATEWAY = "istio-system", "istio-eastwestgateway"
TLS_MODE = "security.istio.io/tlsMode"


def revision_names(lab):
    a = lab.revision
    return a, a + "-b", a + "-c"


def read(lab, name):
    from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revisions import read_revisions
    return read_revisions(lab.client(name), ISTIO_NAMESPACE, GATEWAY)


@pytest.fixture(scope="module")
def upgrade(ansible_playbook):
    def run(revision, **extra):
        extra_vars = {"mesh_istio_revision": revision, "mesh_upgrade_grace_period": 1, **extra}
        return ansible_playbook("upgrade.yml", extra_vars=extra_vars)
    return run


@pytest.fixture(scope="module")
def fleet(lab, converged, upgrade):
    """The converged fleet at A; afterwards at A again, as every other module expects it."""
    a, _b, c = revision_names(lab)
    assert all(set(read(lab, name)["revisions"]) == {a} for name in lab.names)
    yield lab
    if any(c in read(lab, name)["revisions"] for name in lab.names):  # a test stopped before its rollback
        upgrade(c, mesh_upgrade_rollback=True)
    run = upgrade(a, mesh_upgrade_waves=[2])
    assert run.rc == 0, run.stdout[-4000:]
    assert all(set(read(lab, name)["revisions"]) == {a} for name in lab.names)


def gateway_addresses(lab):
    from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address
    return {name: gateway_address(lab.client(name).get("Service", GATEWAY, ISTIO_NAMESPACE))[0] for name in lab.names}


def imported_routes(lab, name):
    """{(port, host): {(address, port)}} of the hosts the cluster imports: the collection's ServiceEntries
    whose endpoints are other clusters' gateways (an exporting cluster's own entry points at its Service)."""
    remote = {address for other, address in gateway_addresses(lab).items() if other != name}
    routes = {}
    for entry in lab.client(name).list("ServiceEntry"):
        spec = entry["spec"]
        if entry["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") != "meshops.multicluster" \
                or not {ep["address"] for ep in spec.get("endpoints", [])} & remote:
            continue
        for port in spec["ports"]:
            routes[(port["number"], spec["hosts"][0])] = {(ep["address"], ep["ports"][port["name"]])
                                                          for ep in spec["endpoints"] if ep["address"] in remote}
    return routes


def endpoints_of(cluster):
    return {(lb["endpoint"]["address"]["socketAddress"]["address"], lb["endpoint"]["address"]["socketAddress"]["portValue"])
            for group in (cluster.get("loadAssignment") or {}).get("endpoints", []) for lb in group.get("lbEndpoints", [])}


def assert_routes_hold(lab, revisions):
    """A sidecar of every cluster, served by each of `revisions`' istiod, is sent every imported host
    to the remote gateways on 15443 with Istio mTLS."""
    checked = 0
    for name in lab.names:
        routes = imported_routes(lab, name)
        for revision in revisions:
            probe = xds(name, namespace="default", revision=revision)
            clusters = {c["name"]: c for c in probe.get("clusters", [])}
            for (port, host), gateways in routes.items():
                cluster = clusters.get(f"outbound|{port}||{host}")
                assert cluster, (name, revision, host, sorted(clusters))
                assert endpoints_of(cluster) == gateways and {p for _a, p in gateways} == {15443}, (name, revision)
                tls = cluster["transportSocket"]["typedConfig"]
                assert tls["sni"] == f"outbound_.{port}_._.{host}", (name, revision)
                assert tls["commonTlsContext"]["alpnProtocols"][0].startswith("istio"), (name, revision)
                checked += 1
    assert checked >= len(lab.names) - 1  # the demo's httpbin, exported by the first cluster


def assert_gateway_passes_through(lab, revision):
    """The exporting cluster's gateway, served by `revision`'s istiod, passes each imported host's SNI on 15443."""
    hosts = {key for name in lab.names[1:] for key in imported_routes(lab, name)}
    probe = xds(lab.names[0], gateway=True, revision=revision)
    listener = next(l for l in probe["listeners"] if l["address"]["socketAddress"]["portValue"] == 15443)
    served = {sni for chain in listener["filterChains"] for sni in chain.get("filterChainMatch", {}).get("serverNames", [])}
    assert {f"outbound_.{port}_._.{host}" for port, host in hosts} <= served, sorted(served)


def results_of(run, task, status="changed"):
    """[(host, item or None)] of the hosts a task reported with `status`, in the order of the run."""
    found, in_task = [], False
    for line in run.stdout.splitlines():
        if line.startswith("TASK ["):
            in_task = task in line
        elif in_task and line.startswith(status + ": ["):
            host, _sep, rest = line[len(status) + 3:].partition("]")
            item = re.match(r" => \(item=([^)]*)\)", rest)
            found.append((host, item.group(1) if item else None))
    return found


def order_of(run, task):
    """The hosts a task changed, in the order the run changed them."""
    return [host for host, _item in results_of(run, task)]


def imported_entry(lab, importer, exporter):
    """The collection's ServiceEntry in `importer` for a host `exporter` exports (its endpoint: exporter's gateway)."""
    address = gateway_addresses(lab)[exporter]
    return next(entry for entry in lab.client(importer).list("ServiceEntry")
                if address in {ep["address"] for ep in entry["spec"].get("endpoints", [])})


def injected_by(lab, name, revision):
    """The revision whose injector the API server called for a Pod labelled istio.io/rev=<revision> (dry run)."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"generateName": "upgrade-probe-", "namespace": "default", "labels": {"istio.io/rev": revision}},
           "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]}}
    created = lab.client(name).create(pod, dry_run=True)
    status = created["metadata"].get("annotations", {}).get("sidecar.istio.io/status")
    return json.loads(status)["revision"] if status else None


def leftovers(lab, name, revision):
    """Objects of `revision` still in the cluster: its istiod, Service, webhooks, ConfigMaps, Helm release."""
    from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
        istiod_name, mesh_config_name, values_configmap_name)
    client = lab.client(name)
    found = [f"{kind} {obj['metadata']['name']}"
             for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
             for obj in client.list(kind, label_selector=f"istio.io/rev={revision}")]
    found += [f"{kind} {obj_name}" for kind, obj_name in (
        ("Deployment", istiod_name(revision)), ("Service", istiod_name(revision)),
        ("ConfigMap", mesh_config_name(revision)), ("ConfigMap", values_configmap_name(revision)))
        if client.get(kind, obj_name, ISTIO_NAMESPACE)]
    found += [f"Secret {s['metadata']['name']}" for s in client.list(
        "Secret", ISTIO_NAMESPACE, label_selector=f"owner=helm,name={istiod_name(revision)}")]
    return found


def test_upgrade_canary_first_then_the_rest_routes_holding_then_nothing_of_the_old_revision(fleet, upgrade):
    lab = fleet
    a, b, _c = revision_names(lab)
    # Up to the canary tag: each cluster runs both revisions, the default tag still on A.
    run = upgrade(b, mesh_upgrade_stop_after="canary_tag")
    assert run.rc == 0, run.stdout[-4000:]
    assert order_of(run, f"Install or upgrade istiod-{b}") == lab.names  # canary (the first host), then one at a time
    for name in lab.names:
        state = read(lab, name)
        assert set(state["revisions"]) == {a, b} and state["default_revision"] == a, (name, state)
        assert {tag: t["revision"] for tag, t in state["tags"].items()} == {"default": a, "stable": a, "canary": b}
        assert state["gateway"]["revision"] == a and not state["dangling_webhooks"]
        assert injected_by(lab, name, b) == b
    assert_routes_hold(lab, [a, b])

    # The canary's gateway moves as a canary (a second release behind the same Service, then in place),
    # the others' in place. An importer of the canary whose ServiceEntry no longer routes to the canary's
    # gateway fails the gate "importers" after the canary's own gates: the rollout stops there, naming it.
    canary, others = lab.names[0], lab.names[1:]
    strategy = {"mesh_upgrade_gateway_strategy": "{{ 'canary' if inventory_hostname == '%s' else 'in_place' }}" % canary}
    entry = imported_entry(lab, others[0], canary)
    meta = entry["metadata"]
    client = lab.client(others[0])
    client.merge_patch("ServiceEntry", meta["name"], meta["namespace"],
                       {"spec": {"endpoints": [dict(ep, ports={k: 15444 for k in ep["ports"]}) for ep in entry["spec"]["endpoints"]]}})
    try:
        run = upgrade(b, **strategy)
    finally:
        client.merge_patch("ServiceEntry", meta["name"], meta["namespace"], {"spec": {"endpoints": entry["spec"]["endpoints"]}})
    assert run.rc != 0
    stop = re.search(r"%s: the upgrade to revision %s stopped at gate\(s\) importers\. (.*?) The clusters not reached"
                     % (canary, b), run.text)
    assert stop and f"importer {others[0]}: service_entries: 0 missing, 1 different" in stop.group(1), run.text[-3000:]
    assert order_of(run, f"Install or upgrade {GATEWAY}-{b}") == [canary]  # the canary gateway, then removed
    assert [host for host, _item in results_of(run, "Uninstall the canary gateway releases")] == [canary]
    canary_state = read(lab, canary)
    assert canary_state["gateway"]["revision"] == b and canary_state["gateway_canaries"] == []
    assert all(read(lab, name)["gateway"]["revision"] == a for name in others)  # not reached

    # The rest, resumed from what each cluster runs: gateway, tags, gates, cleanup.
    run = upgrade(b, **strategy)
    assert run.rc == 0, run.stdout[-4000:]
    # The importers' gate passed: the canary checked each cluster that imports from it.
    assert results_of(run, "Gates - compare each importer's ServiceEntries", "ok") == [(canary, name) for name in others]
    assert order_of(run, f"Install or upgrade istiod-{b}") == []  # resumed: installed by the run before
    assert order_of(run, f"Uninstall istiod of revision {a}") == lab.names
    for name in lab.names:
        state = read(lab, name)
        assert set(state["revisions"]) == {b} and state["default_revision"] == b
        assert {t["revision"] for t in state["tags"].values()} == {b} and state["gateway"]["revision"] == b
        assert state["gateway_canaries"] == [], name
        assert state["dangling_webhooks"] == [], name  # every webhook points at a Service that exists
        assert leftovers(lab, name, a) == [], name
    assert_routes_hold(lab, [b])
    assert_gateway_passes_through(lab, b)

    # A second run changes nothing: no write of any client (modules, helm) in any cluster.
    writes = lab.writes(user_agent="")
    run = upgrade(b)
    assert run.rc == 0 and run.changed == 0, run.stdout[-4000:]
    assert lab.writes(user_agent="") == writes


def test_a_failed_gate_stops_after_the_canary_and_rollback_returns_it(fleet, upgrade, ansible_playbook):
    lab = fleet
    _a, b, c = revision_names(lab)
    canary, others = lab.names[0], lab.names[1:]
    if set(read(lab, canary)["revisions"]) != {b}:
        pytest.skip("needs the fleet at B (the test before)")
    writes = lab.writes(user_agent="")
    # C's istiod exits at start (pilot-discovery refuses the flag's value; an unknown flag it would ignore):
    # its pod is Ready (the lab's kubelet says so, as a pod without a readiness probe is), its webhooks do not answer.
    run = upgrade(c, mesh_istio_values_override={"keepaliveMaxServerConnectionAge": "not-a-duration"},
                  mesh_upgrade_gate_timeout=15)
    assert run.rc != 0
    stop = re.search(r"%s: the upgrade to revision %s stopped at gate\(s\) ([a-z_, ]+)\. (.*?) The clusters not reached"
                     % (canary, c), run.text)
    assert stop and "injection" in stop.group(1), run.text[-3000:]
    assert f"istiod-{c}" in stop.group(2)  # the evidence: the API server's call of its webhook
    after = lab.writes(user_agent="")
    assert {name: after[name] for name in others} == {name: writes[name] for name in others}  # untouched
    state = read(lab, canary)
    assert set(state["revisions"]) == {b, c} and {t["revision"] for t in state["tags"].values()} == {b}
    assert state["gateway"]["revision"] == b

    run = upgrade(c, mesh_upgrade_rollback=True)
    assert run.rc == 0, run.stdout[-4000:]
    assert f"{canary}: back to revision {b}" in run.text
    for name in lab.names:
        state = read(lab, name)
        assert set(state["revisions"]) == {b} and state["dangling_webhooks"] == [], (name, state)
        assert leftovers(lab, name, c) == [], name
    assert lab.writes(user_agent="")[others[0]] == writes[others[0]]
    run = ansible_playbook("verify.yml", extra_vars={"mesh_istio_revision": b})
    assert run.rc == 0, run.stdout[-4000:]

    # Once B is the only revision, there is nothing to return to: refused, naming why.
    run = upgrade(b, mesh_upgrade_rollback=True)
    assert run.rc != 0 and "no previous revision is installed any more" in run.text
