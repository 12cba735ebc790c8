"""The k3s DNS layout against the lab's real CoreDNS (issue #20, finding 3): the Corefile imports
`/etc/coredns/custom/*.server`, ConfigMap coredns-custom is mounted there. Switching
mesh_dns_custom_configmap on, off and on again moves the delegation in one run each; after every
run CoreDNS - restarted by the lab with the complete configuration, as a new pod would read it -
is serving, `<name>.<namespace>.global` resolves through the cluster DNS IP, and zone global is
defined once. Before the fix, switching off left the block in coredns-custom and added a second
one to the Corefile: CoreDNS refused to start.
"""

from __future__ import annotations

import time

import pytest
from test_dns import RECORDS, assert_answer, ensure_namespace, eventually, lookup

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import records_configmap
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, ZONE_RECORDS, ZONE_SERVER

K3S_IMPORT = "import /etc/coredns/custom/*.server\n"
CUSTOM_VOLUME = {"name": "custom-config-volume", "configMap": {"name": "coredns-custom", "optional": True}}
CUSTOM_MOUNT = {"name": "custom-config-volume", "mountPath": "/etc/coredns/custom", "readOnly": True}
MARKER = corefile.MARKER_BEGIN % "global"


def coredns_cluster(lab):
    name = next((c["name"] for c in lab.clusters if c["dns_provider"] == "coredns"), None)
    if name is None:
        pytest.skip("no cluster of this lab runs CoreDNS")
    return next(c for c in lab.clusters if c["name"] == name)


def patch_data(client, name, data):
    live = client.get("ConfigMap", name, "kube-system")
    client.merge_patch("ConfigMap", name, "kube-system",
                       {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]}, "data": data})


def set_pod_volumes(client, spec):
    """The CoreDNS Deployment's volumes and containers (JSON merge patch: whole lists)."""
    client.merge_patch("Deployment", "coredns", "kube-system", {"spec": {"template": {"spec": {
        "volumes": spec["volumes"], "containers": spec["containers"]}}}})


@pytest.fixture
def k3s_layout(lab):
    """One CoreDNS cluster laid out as k3s does; everything (Corefile, Deployment, coredns-custom,
    zone server and records) as it was afterwards."""
    cluster = coredns_cluster(lab)
    ensure_namespace(lab)
    client = lab.client(cluster["name"])
    corefile_before = client.get("ConfigMap", "coredns", "kube-system")["data"]["Corefile"]
    spec_before = client.get("Deployment", "coredns", "kube-system")["spec"]["template"]["spec"]
    custom_before = client.get("ConfigMap", "coredns-custom", "kube-system")
    records_before = client.get("ConfigMap", ZONE_RECORDS, ISTIO_NAMESPACE)
    zone_server_before = client.get("Deployment", ZONE_SERVER, ISTIO_NAMESPACE)
    assert custom_before is None, "the lab has a coredns-custom ConfigMap already"
    k3s_spec = dict(spec_before, volumes=spec_before["volumes"] + [CUSTOM_VOLUME],
                    containers=[dict(spec_before["containers"][0],
                                     volumeMounts=spec_before["containers"][0]["volumeMounts"] + [CUSTOM_MOUNT])]
                    + spec_before["containers"][1:])
    set_pod_volumes(client, k3s_spec)
    k3s_corefile = corefile.remove(corefile_before, "global") + K3S_IMPORT
    patch_data(client, "coredns", {"Corefile": k3s_corefile})
    try:
        yield cluster, client, k3s_corefile
    finally:
        if client.get("ConfigMap", "coredns-custom", "kube-system") is not None:
            client.delete("ConfigMap", "coredns-custom", "kube-system")
        patch_data(client, "coredns", {"Corefile": corefile_before})
        set_pod_volumes(client, spec_before)
        if records_before is not None:
            client.apply(dict(records_configmap({}), data=records_before.get("data") or {}))
        installed = [("ConfigMap", ZONE_RECORDS)] if records_before is None else []
        if zone_server_before is None:  # the zone server this test installed goes too
            installed += [(kind, ZONE_SERVER) for kind in ("Deployment", "Service", "ConfigMap")]
        for kind, name in installed:
            if client.get(kind, name, ISTIO_NAMESPACE) is not None:
                client.delete(kind, name, ISTIO_NAMESPACE)


def served_zones(client):
    """(zone, port) -> places, over the Corefile and the coredns-custom keys it imports."""
    sources = [("Corefile", client.get("ConfigMap", "coredns", "kube-system")["data"]["Corefile"])]
    custom = client.get("ConfigMap", "coredns-custom", "kube-system") or {}
    sources += sorted((key, text) for key, text in (custom.get("data") or {}).items() if key.endswith(".server"))
    return corefile.zone_places(sources)


def runtime_corefile(lab, cluster, block_first, timeout=60):
    """The complete configuration the lab's CoreDNS runs once it reflects the last run (our block in
    front: from the Corefile; after the cluster's own block: inlined from coredns-custom)."""
    path = lab.dir / cluster["name"] / "dns" / "kube-system.coredns" / "Corefile.lab"
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.is_file() else ""
        if MARKER in text and text.startswith(MARKER) == block_first:
            return text
        assert time.monotonic() < deadline, "the lab's CoreDNS did not pick up the change:\n" + text
        time.sleep(1)


def assert_serving(lab, cluster, client, block_first):
    """CoreDNS, restarted with the complete configuration, answers for .global and cluster.local."""
    text = runtime_corefile(lab, cluster, block_first)
    ip = cluster["dns_ip"]
    eventually(lambda: assert_answer(lookup(ip, "dnscheck.meshtest.global"), ["240.0.0.77"]), timeout=30)
    kubernetes_ip = client.get("Service", "kubernetes", "default")["spec"]["clusterIP"]
    assert lookup(ip, "kubernetes.default.svc.cluster.local") == [kubernetes_ip]
    served = corefile.zone_places([("the lab's CoreDNS configuration", text)])
    assert len(served[("global", 53)]) == 1, served


def test_switching_custom_configmap_moves_the_block_and_coredns_keeps_serving(lab, ansible_playbook, k3s_layout):
    cluster, client, k3s_corefile = k3s_layout
    limit = ("--limit", cluster["name"])
    for step, custom in enumerate((True, False, True)):  # check and diff mode of a move: test_cluster_dns.py
        run = ansible_playbook("dns.yml", *limit, extra_vars={"mesh_dns_custom_configmap": custom})
        assert run.rc == 0, run.stdout[-3000:]
        if step == 0:  # what the services step writes
            client.apply(records_configmap(RECORDS))
        assert_serving(lab, cluster, client, block_first=not custom)
        assert served_zones(client)[("global", 53)] == ["global.server line 2" if custom else "Corefile line 2"]
        corefile_now = client.get("ConfigMap", "coredns", "kube-system")["data"]["Corefile"]
        assert (corefile_now == k3s_corefile) if custom else (corefile.remove(corefile_now, "global") == k3s_corefile)
