"""The lab: independent real clusters, Deployments that become Available, load balancers,
Istio's CRDs with schema validation, and a `down` that leaves nothing behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from lab import netns
from lab.build import ensure_binaries, ensure_istio_charts

from labtools import SECOND_INSTANCE, Lab, lab_command

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployment_not_ready
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError


def _wait(check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    return check()


def test_clusters_are_independent(lab):
    first, second = (lab.client(name) for name in lab.names[:2])
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "lab-independence", "namespace": "default"}, "data": {"x": "1"}}
    first.request("POST", "/api/v1/namespaces/default/configmaps", body=json.dumps(configmap))
    try:
        assert first.get("ConfigMap", "lab-independence", "default") is not None
        assert second.get("ConfigMap", "lab-independence", "default") is None
    finally:
        first.delete("ConfigMap", "lab-independence", "default")


def test_seeded_cluster_dns_deployment_is_available_with_running_pods(lab):
    for name in lab.names:
        client = lab.client(name)
        assert deployment_not_ready(client.get("Deployment", "coredns", "kube-system")) is None
        pods = client.request("GET", "/api/v1/namespaces/kube-system/pods", query={"labelSelector": "k8s-app=kube-dns"})
        assert [p["status"]["phase"] for p in pods["items"]] == ["Running", "Running"]


def test_services_have_endpoints_at_pod_addresses_of_the_lab_network(lab):
    """In the lab's network namespace pods get 10.x addresses, which Kubernetes accepts as endpoints
    (loopback ones it refuses): the cluster DNS Service's EndpointSlice holds its pods, ready."""
    if not lab.state.get("netns"):
        pytest.skip("the lab runs without its network namespace (not root): pods have loopback addresses")
    for name in lab.names:
        client = lab.client(name)
        pods = client.request("GET", "/api/v1/namespaces/kube-system/pods", query={"labelSelector": "k8s-app=kube-dns"})
        pod_ips = {p["status"]["podIP"] for p in pods["items"]}
        assert pod_ips and all(ip.startswith("10.") for ip in pod_ips)
        slices = client.request("GET", "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices",
                                query={"labelSelector": "kubernetes.io/service-name=kube-dns"})
        ready = {address for s in slices["items"] for e in s.get("endpoints") or []
                 if (e.get("conditions") or {}).get("ready") for address in e["addresses"]}
        assert ready == pod_ips


def test_a_load_balancer_service_gets_a_loopback_address(lab):
    client = lab.client(lab.names[0])
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lab-lb", "namespace": "default"},
               "spec": {"type": "LoadBalancer", "ports": [{"name": "tls", "port": 15443}], "selector": {"app": "x"}}}
    client.apply(service)
    try:
        ingress = _wait(lambda: (client.get("Service", "lab-lb", "default").get("status") or {})
                        .get("loadBalancer", {}).get("ingress"))
        assert ingress and ingress[0]["ip"].startswith("127.")
    finally:
        client.delete("Service", "lab-lb", "default")


def test_istio_crds_install_and_the_api_server_rejects_an_invalid_serviceentry(lab):
    crds = ensure_istio_charts() / "crd-all.gen.yaml"
    subprocess.run([str(ensure_binaries()["kubectl"]), "--kubeconfig", lab.kubeconfig, "--context", lab.names[0],
                    "apply", "--server-side", "--field-manager", "lab-test", "-f", str(crds)],
                   check=True, capture_output=True)
    client = lab.client(lab.names[0])
    invalid = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
               "metadata": {"name": "invalid", "namespace": "default"},
               "spec": {"hosts": ["a.b.global"], "resolution": "SOMETIMES", "ports": [{"number": "eighty"}]}}
    with pytest.raises(KubeError) as exc:
        client.request("POST", "/apis/networking.istio.io/v1/namespaces/default/serviceentries",
                       body=json.dumps(invalid))
    assert exc.value.status == 422
    assert "spec.resolution" in str(exc.value) and "spec.ports[0].number" in str(exc.value)


def test_second_up_refuses_and_bad_input_is_explained(lab):
    again = lab_command("up", check=False)
    assert again.returncode == 2 and "already running" in again.stderr and "lab down" in again.stderr
    too_many = lab_command("up", "--clusters", "9", check=False)
    assert too_many.returncode == 2 and "choose 1 to 6" in too_many.stderr


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_down_leaves_no_process_or_port_behind():
    lab_command("down", instance=SECOND_INSTANCE, check=False)
    started = lab_command("up", "--clusters", "1", instance=SECOND_INSTANCE, check=False)
    assert started.returncode == 0, started.stderr[-2000:]
    second = Lab(instance=SECOND_INSTANCE)
    if second.state["netns"]:  # its ports are those of the lab's network namespace
        netns.enter(second.state["netns"])
    pids = list(second.state["pids"].values())
    ports = [second.state["etcd_port"], second.state["etcd_port"] + 1] + [c["api_port"] for c in second.state["clusters"]]
    busy = lab_command("up", "--clusters", "1", instance=SECOND_INSTANCE, check=False)
    assert "already running" in busy.stderr
    assert lab_command("down", instance=SECOND_INSTANCE).stdout.strip() == "lab stopped"
    alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and
             open(f"/proc/{pid}/stat").read().split(") ", 1)[1][0] != "Z"]
    assert alive == []
    assert [port for port in ports if not _port_free(port)] == []
    leftovers = subprocess.run(["pgrep", "-f", str(second.dir)], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""  # no CoreDNS or other process of that lab
    assert not second.dir.exists()
