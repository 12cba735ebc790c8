"""playbooks/dns.yml against the lab: .global names resolve through each cluster's DNS, a second run
changes nothing, and uninstalling gives the cluster DNS ConfigMap back exactly as it was.

One test walks the whole life cycle (check mode, install, second run, uninstall, second uninstall):
each step starts from the state the previous one left.
"""

from __future__ import annotations

import time

import dns.exception
import dns.resolver

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import kubedns
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import records_configmap
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, ZONE_RECORDS, ZONE_SERVER, managed_labels

RECORDS = {"dnscheck.meshtest.global": "240.0.0.77", "other.meshtest.global": "240.0.0.78"}
ABSENT = {"mesh_dns_state": "absent"}


def dns_configmap_name(cluster):
    return "coredns" if cluster["dns_provider"] == "coredns" else "kube-dns"


def snapshot(lab, cluster):
    """What 'the original ConfigMap' means: whether it exists, its data, labels and annotations."""
    obj = lab.client(cluster["name"]).get("ConfigMap", dns_configmap_name(cluster), "kube-system")
    if obj is None:
        return None
    meta = obj["metadata"]
    return {"data": obj.get("data"), "labels": meta.get("labels"), "annotations": meta.get("annotations")}


def lookup(ip, name, rdtype="A"):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [ip]
    resolver.lifetime = 3
    return sorted(record.to_text() for record in resolver.resolve(name, rdtype))


def assert_answer(answer, expected):
    assert answer == expected


def assert_gone(ip, name):
    try:
        answer = lookup(ip, name)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.resolver.NoAnswer):
        return
    raise AssertionError("%s still resolves to %s" % (name, answer))


def eventually(check, timeout=90):
    """check() once it stops raising (DNS servers reload on their own schedule)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, dns.exception.DNSException):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def total_writes(lab):
    return {c["name"]: lab.write_requests(c["name"]) for c in lab.clusters}


def ensure_namespace(lab):
    """The control plane step's namespace, when that step has not run in this lab."""
    for c in lab.clusters:
        client = lab.client(c["name"])
        if client.get("Namespace", ISTIO_NAMESPACE) is None:
            client.apply({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": ISTIO_NAMESPACE, "labels": managed_labels()}})


def check_resolution(lab):
    for c in lab.clusters:
        ip = c["dns_ip"]
        eventually(lambda: assert_answer(lookup(ip, "dnscheck.meshtest.global"), ["240.0.0.77"]))
        assert lookup(ip, "other.meshtest.global") == ["240.0.0.78"]
        kubernetes_ip = lab.client(c["name"]).get("Service", "kubernetes", "default")["spec"]["clusterIP"]
        assert lookup(ip, "kubernetes.default.svc.cluster.local") == [kubernetes_ip]


def check_delegation(lab, originals):
    """The cluster DNS ConfigMap is the original plus our block (CoreDNS) or our key (kube-dns)."""
    for c in lab.clusters:
        client = lab.client(c["name"])
        zone_ip = client.get("Service", ZONE_SERVER, ISTIO_NAMESPACE)["spec"]["clusterIP"]
        original = (originals[c["name"]] or {}).get("data") or {}
        data = client.get("ConfigMap", dns_configmap_name(c), "kube-system")["data"]
        if c["dns_provider"] == "coredns":
            assert data["Corefile"].startswith("# BEGIN meshops.multicluster global\nglobal:53 {\n")
            assert "    forward . %s\n" % zone_ip in data["Corefile"]
            assert corefile.remove(data["Corefile"], "global") == original["Corefile"]
            corefile.parse(data["Corefile"])
        else:
            assert kubedns.load(data["stubDomains"])["global"] == [zone_ip]
            assert kubedns.unmerge(data["stubDomains"], "global") == original.get("stubDomains")
        others = ("Corefile", "stubDomains")
        assert {k: v for k, v in data.items() if k not in others} == \
            {k: v for k, v in original.items() if k not in others}


def check_removed(lab, originals):
    for c in lab.clusters:
        assert snapshot(lab, c) == originals[c["name"]]
        client = lab.client(c["name"])
        for kind in ("Deployment", "Service", "ConfigMap"):
            assert client.get(kind, ZONE_SERVER, ISTIO_NAMESPACE) is None
        assert client.get("ConfigMap", ZONE_RECORDS, ISTIO_NAMESPACE) is None
        eventually(lambda: assert_gone(c["dns_ip"], "dnscheck.meshtest.global"))


def run_unchanged(lab, ansible_playbook, *args, **kwargs):
    """A run that must change nothing and write nothing."""
    writes = total_writes(lab)
    run = ansible_playbook("dns.yml", *args, **kwargs)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.changed == 0, run.stdout[-3000:]
    assert total_writes(lab) == writes, "a run without changes wrote to a cluster"


def start_without_dns(lab, ansible_playbook):
    """An earlier test's site.yml may have installed the DNS step (test_failover's does): this test
    starts from clusters without it, which is also how it leaves them."""
    if any(lab.client(c["name"]).get("Deployment", ZONE_SERVER, ISTIO_NAMESPACE) for c in lab.clusters):
        removed = ansible_playbook("dns.yml", extra_vars=ABSENT)
        assert removed.rc == 0, removed.stdout[-3000:]


def test_dns_life_cycle(lab, ansible_playbook):
    ensure_namespace(lab)
    records_before = {c["name"]: lab.client(c["name"]).get("ConfigMap", ZONE_RECORDS, ISTIO_NAMESPACE)
                      for c in lab.clusters}
    start_without_dns(lab, ansible_playbook)
    originals = {c["name"]: snapshot(lab, c) for c in lab.clusters}

    writes = total_writes(lab)
    check = ansible_playbook("dns.yml", "--check", "--diff")
    assert check.rc == 0 and check.changed > 0, check.stdout[-3000:]
    assert total_writes(lab) == writes, "check mode wrote to a cluster"
    assert {c["name"]: snapshot(lab, c) for c in lab.clusters} == originals

    run = ansible_playbook("dns.yml", "--diff")
    assert run.rc == 0 and run.changed > 0, run.stdout[-3000:]
    for c in lab.clusters:  # what the services step writes
        lab.client(c["name"]).apply(records_configmap(RECORDS))
    try:
        check_resolution(lab)
        check_delegation(lab, originals)
        run_unchanged(lab, ansible_playbook)
    finally:
        removed = ansible_playbook("dns.yml", extra_vars=ABSENT)
    assert removed.rc == 0 and removed.changed > 0, removed.stdout[-3000:]
    check_removed(lab, originals)
    run_unchanged(lab, ansible_playbook, extra_vars=ABSENT)

    for name, obj in records_before.items():  # hand the records back to the services step's tests
        if obj is not None:
            lab.client(name).apply(dict(records_configmap({}), data=obj.get("data") or {}))
