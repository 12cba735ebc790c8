"""What the tests of the services step share: a look at what the step wrote in a cluster, test
namespaces, runs of playbooks/services.yml, and the east-west gateways they need."""

from __future__ import annotations

import time

from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import OWNED_SELECTOR
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address

GATEWAY = ("istio-system", "istio-eastwestgateway")


def entries(client, kind="ServiceEntry"):
    """This step's ServiceEntries (or DestinationRules) in a cluster, by name (= host)."""
    return {obj["metadata"]["name"]: obj for obj in client.list(kind, label_selector=OWNED_SELECTOR)}


def vip_store(client):
    return (client.get("ConfigMap", "meshops-vips", "istio-system") or {}).get("data") or {}


def records(client):
    data = (client.get("ConfigMap", "istiocoredns-records", "istio-system") or {}).get("data") or {}
    lines = [line.split() for line in data.get("global.hosts", "").splitlines() if line and not line.startswith("#")]
    return {name: ip for ip, name in lines}


def untouched(now, before):
    """What its owner wrote is as it was. (Not the resourceVersion: istiod writes status.addresses
    into ServiceEntries without addresses.)"""
    kept = ("generation", "labels", "annotations")
    return all(now["metadata"].get(k) == before["metadata"].get(k) for k in kept) and now["spec"] == before["spec"]


def ensure_namespace(client, name):
    """A test namespace, once a deletion left by an earlier test or session has finished."""
    deadline = time.monotonic() + 120
    while ((client.get("Namespace", name) or {}).get("status") or {}).get("phase") == "Terminating":
        assert time.monotonic() < deadline, "namespace %s is still being deleted" % name
        time.sleep(1)
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def run_services(ansible_playbook, *args, **kwargs):
    result = ansible_playbook("services.yml", *args, **kwargs)
    assert result.rc == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def gateway_addresses(lab):
    """{cluster: its east-west gateway's address}, or None while a cluster lacks Istio's CRDs or the gateway."""
    found = {}
    for name in lab.names:
        client = lab.client(name)
        service = client.get("Service", GATEWAY[1], GATEWAY[0])
        if client.request("GET", "/apis/networking.istio.io/v1") is None or not service:
            return None
        found[name] = (gateway_address(service) or (None,))[0]
    return found if all(found.values()) else None


def ensure_gateways(lab, ansible_playbook):
    """The lab with Istio's CRDs and east-west gateways (the control plane step, run if missing):
    {cluster: gateway address}."""
    if gateway_addresses(lab) is None:
        result = ansible_playbook("control_plane.yml")
        assert result.rc == 0, "the control plane step is needed first:\n" + result.stdout[-4000:]
    return gateway_addresses(lab)
