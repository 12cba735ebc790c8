"""An identical Istio control plane in every cluster, with the gateway the others reach."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest

from labtools import REPO, SECOND_INSTANCE, Lab, lab_command

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployment_not_ready
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.helm_release import deployed_releases
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KINDS
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import (
    BASE_RELEASE, GATEWAY, MANAGED_BY, MANAGED_BY_LABEL)
from lab.seed import KUBEADM_COREFILE

GATEWAY_LINE = re.compile(r"GATEWAY (\S+) (\S+) (\d+)")


def control_plane_with_facts(ansible_playbook, inventory, *args):
    """control_plane.yml, then print each host's gateway fact."""
    playbook = Path(tempfile.mkdtemp()) / "control_plane_facts.yml"
    playbook.write_text(f"""
- name: Control plane
  ansible.builtin.import_playbook: {REPO / 'playbooks' / 'control_plane.yml'}
- name: Show the facts
  hosts: mesh_clusters
  gather_facts: false
  tasks:
    - name: Gateway fact
      ansible.builtin.debug:
        msg: "GATEWAY {{{{ inventory_hostname }}}} {{{{ mesh_gateway_address }}}} {{{{ mesh_gateway_port }}}}"
""")
    run = ansible_playbook(str(playbook), *args, inventory=inventory)
    return run, {host: (address, int(port)) for host, address, port in GATEWAY_LINE.findall(run.stdout)}


def pinned_version(lab):
    return re.search(r"mesh_istio_version: (\S+)", Path(lab.inventory).read_text()).group(1)


def assert_installed(lab, gateway_facts):
    for name in lab.names:
        client = lab.client(name)
        releases = deployed_releases(client.list("Secret", "istio-system", "owner=helm"))
        assert set(releases) == {BASE_RELEASE, lab.istiod, GATEWAY}
        assert {r["version"] for r in releases.values()} == {pinned_version(lab)}
        for deployment in (lab.istiod, "istio-eastwestgateway"):
            assert deployment_not_ready(client.get("Deployment", deployment, "istio-system")) is None
        gateway = client.get("Gateway", "meshops-global", "istio-system")
        assert gateway["spec"]["servers"] == [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                                               "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.global"]}]
        assert client.get("DestinationRule", "meshops-global", "istio-system") is None  # per host, by services
        assert gateway["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
        namespace = client.get("Namespace", "istio-system")
        assert namespace["metadata"]["labels"]["topology.istio.io/network"] == f"network{name[-1]}"
        service = client.get("Service", "istio-eastwestgateway", "istio-system")
        assert {"name": "tls", "port": 15443} in [{"name": p["name"], "port": p["port"]} for p in service["spec"]["ports"]]
        # The fact equals the address the lab's load balancer wrote into the Service.
        assert gateway_facts[name] == gateway_address(service)[:2]


@pytest.fixture(scope="module")
def installed(lab, ansible_playbook):
    run, facts = control_plane_with_facts(ansible_playbook, lab.inventory)
    assert run.rc == 0, run.stdout[-3000:]
    return facts


def test_every_cluster_gets_the_same_control_plane_and_its_gateway_address(lab, installed):
    assert set(installed) == set(lab.names)
    assert all(address.startswith("127.") for address, port in installed.values())
    assert_installed(lab, installed)


def test_second_run_changes_nothing(lab, installed, ansible_playbook):
    writes = lab.writes(user_agent="")
    run = ansible_playbook("control_plane.yml")
    assert run.rc == 0 and run.changed == 0, run.stdout[-3000:]
    assert lab.writes(user_agent="") == writes


def test_bad_input_fails_before_anything_is_installed(lab, installed, ansible_playbook):
    writes = lab.writes(user_agent="")
    run = ansible_playbook("control_plane.yml", extra_vars={"mesh_istio_version": "0.0.1"})
    assert run.rc != 0 and "holds charts of version(s)" in run.text and "mesh_istio_version=0.0.1" in run.text
    run = ansible_playbook("control_plane.yml", extra_vars={"mesh_network": "Net_1"})
    assert run.rc != 0 and "mesh_network='Net_1'" in run.text
    run = ansible_playbook("control_plane.yml", "--limit", lab.names[0],
                           extra_vars={"mesh_istio_values_override": {"global": {"meshID": "other"}}})
    assert run.rc != 0 and "mesh_istio_values_override sets global.meshID" in run.text
    assert lab.writes(user_agent="") == writes


def ours(client):
    """Every object of the collection's kinds that carries its label."""
    return [(kind, item["metadata"]["name"]) for kind in KINDS
            for item in client.list(kind, label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}")]


@pytest.fixture(scope="module")
def hostname_lab():
    """A second lab whose load balancers hand out hostnames (as on AWS); cluster2's never answers."""
    lab_command("down", instance=SECOND_INSTANCE, check=False)
    started = lab_command("up", "--clusters", "2", "--lb-hostnames", instance=SECOND_INSTANCE, check=False)
    assert started.returncode == 0, started.stderr[-2000:]
    lab_command("lb", "cluster2", "off", instance=SECOND_INSTANCE)
    yield Lab(instance=SECOND_INSTANCE)
    lab_command("down", instance=SECOND_INSTANCE, check=False)


def test_hostname_gateway_and_a_gateway_without_address(hostname_lab, ansible_playbook):
    run, facts = control_plane_with_facts(ansible_playbook, hostname_lab.inventory,
                                          "-e", "mesh_gateway_address_timeout=15")
    assert run.recap["cluster1"]["failed"] == 0 and run.recap["cluster2"]["failed"] == 1
    assert facts["cluster1"] == ("istio-eastwestgateway-istio-system.cluster1.elb.lab.test", 15443)
    assert ("cluster cluster2: after 15s, Service istio-system/istio-eastwestgateway has no address" in run.text
            and "mesh_gateway_address_override" in run.text)


def test_uninstall_leaves_nothing_of_ours_and_the_original_dns(hostname_lab, ansible_playbook):
    lab_command("lb", "cluster2", "on", instance=SECOND_INSTANCE)
    site = ansible_playbook("site.yml", inventory=hostname_lab.inventory)
    assert site.rc == 0, site.stdout[-3000:]
    for attempt in (1, 2):  # twice is fine
        run = ansible_playbook("uninstall.yml", inventory=hostname_lab.inventory)
        assert run.rc == 0, run.stdout[-3000:]
    for name in hostname_lab.names:
        client = hostname_lab.client(name)
        assert deployed_releases(client.list("Secret", "istio-system", "owner=helm")) == {}
        deadline = time.monotonic() + 60  # the namespace controller finishes deleting istio-system
        while ours(client) and time.monotonic() < deadline:
            time.sleep(2)
        assert ours(client) == []
        assert client.get("ConfigMap", "coredns", "kube-system")["data"]["Corefile"] == KUBEADM_COREFILE
