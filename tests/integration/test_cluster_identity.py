"""A cluster is who its API server says it is (issue #20, finding 10): two inventory hosts of one
cluster, or K8S_AUTH_HOST over a fleet, are refused before any write."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from labtools import preflight_only_playbook

HELM = "Helm/"


def duplicated_inventory(lab, copy):
    """The lab's inventory with its first cluster listed a second time, as host `copy` (same kubeconfig
    and context, its own name and network)."""
    doc = yaml.safe_load(Path(lab.inventory).read_text())
    hosts = doc["mesh_clusters"]["hosts"]
    hosts[copy] = dict(hosts[lab.names[0]], mesh_network="network-copy")
    path = Path(tempfile.mkdtemp()) / "hosts.yml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def all_writes(lab):
    """Write requests so far in every cluster, by the collection's modules and by Helm."""
    return {name: (lab.write_requests(name), lab.write_requests(name, HELM)) for name in lab.names}


def kube_system_uid(lab, name):
    return lab.client(name).get("Namespace", "kube-system")["metadata"]["uid"]


@pytest.mark.parametrize("playbook", ["site.yml", "services.yml"])
def test_a_cluster_listed_twice_is_refused_before_any_write(lab, ansible_playbook, playbook):
    first, copy = lab.names[0], lab.names[0] + "-copy"
    before = all_writes(lab)
    run = ansible_playbook(playbook, inventory=duplicated_inventory(lab, copy))
    assert run.rc != 0, run.stdout[-3000:]
    assert "%s and %s are the same cluster (namespace kube-system has uid %s in each)" % (
        first, copy, kube_system_uid(lab, first)) in run.text, run.stdout[-3000:]
    assert all_writes(lab) == before


def test_k8s_auth_host_over_a_fleet_is_refused_before_any_write(lab, ansible_playbook):
    before = all_writes(lab)
    server = lab.clusters[0]["server"]
    run = ansible_playbook("services.yml", env={"K8S_AUTH_HOST": server})
    assert run.rc != 0
    assert "K8S_AUTH_HOST=%s is set: every host of the play (%s) would talk to that one API server" % (
        server, ", ".join(lab.names)) in run.text, run.stdout[-3000:]
    assert all_writes(lab) == before


def test_each_host_knows_its_cluster_uid(lab, ansible_playbook):
    playbook = preflight_only_playbook("""
    - name: Show the identity
      ansible.builtin.debug:
        msg: "UID {{ inventory_hostname }} {{ mesh_cluster_uid }}"
""")
    before = all_writes(lab)
    run = ansible_playbook(playbook)
    assert run.rc == 0, run.stdout[-3000:]
    for name in lab.names:
        assert "UID %s %s" % (name, kube_system_uid(lab, name)) in run.text
    assert all_writes(lab) == before
