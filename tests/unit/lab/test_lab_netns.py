"""The lab inside its network namespace: pod addresses Kubernetes accepts as endpoints there, loopback
ones without it (and the trace's hops that need endpoints switched off), istiod's monitoring port on
the pod's address, and a clear refusal when the namespace is gone."""

import json

import pytest
import yaml

from lab import inventory, netns
from lab.__main__ import main
from lab.istiod import listen_flags, port_forward
from lab.state import ClusterInfo, LabError, LabState, address_bases

ISTIOD_CONTAINER = {"ports": [{"containerPort": p} for p in (8080, 15010, 15012, 15017, 15014)]}
ISTIOD_SERVICE = {"spec": {"ports": [{"port": 15010}, {"port": 15012}, {"port": 443, "targetPort": 15017},
                                     {"port": 15014}]}}


def cluster(index: int, pod_first_octet: int, instance: int = 0) -> ClusterInfo:
    return ClusterInfo(f"cluster{index}", index, 16410 + index, "coredns", address_bases(instance),
                       pod_first_octet=pod_first_octet)


def test_pods_get_ten_dot_addresses_in_the_namespace_and_loopback_ones_outside():
    assert cluster(1, 10).pod_cidr == "10.141.0.1/16"
    assert cluster(2, 10, instance=4).pod_cidr == "10.22.0.1/16"
    assert cluster(1, 127).pod_cidr == "127.141.0.1/16"
    # Services and load balancers stay on loopback either way.
    assert cluster(1, 10).service_cidr == "127.101.0.0/16" and cluster(1, 10).lb_prefix == "127.181.0"


def test_state_of_a_lab_from_before_the_namespace_loads_as_a_host_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    (tmp_path / "state.json").write_text(json.dumps({
        "clusters": [{"name": "cluster1", "index": 1, "api_port": 16411, "dns_flavour": "coredns",
                      "bases": [100, 140, 180]}],
        "etcd_port": 16400, "lb_mode": "ip", "kubeconfig": "/k"}))
    state = LabState.load()
    assert state.netns == "" and state.clusters[0].pod_cidr == "127.141.0.1/16"


def test_state_records_the_namespace(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    LabState([cluster(1, 10)], 16400, "ip", "/k", netns=netns.NAME).save()
    state = LabState.load()
    assert state.netns == netns.NAME and state.clusters[0].pod_cidr == "10.141.0.1/16"


@pytest.mark.parametrize("namespace, switched_off", [(netns.NAME, False), ("", True)])
def test_the_trace_hop_that_needs_endpoints_is_switched_off_only_without_the_namespace(
        tmp_path, monkeypatch, namespace, switched_off):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_INVENTORY_DIR", str(tmp_path / "inventory"))
    monkeypatch.setattr(inventory, "ensure_istio_charts", lambda: tmp_path / "charts")
    state = LabState([cluster(1, 10 if namespace else 127)], 16400, "ip", "/k", netns=namespace,
                     istio_release="1.31-dev", binaries={"helm": "/bin/helm"})
    inventory.write_inventory(state)
    fleet_vars = yaml.safe_load((tmp_path / "inventory" / "hosts.yml").read_text())["mesh_clusters"]["vars"]
    switches = {k: fleet_vars[k] for k in fleet_vars if k.startswith("mesh_trace_")}
    assert switches == ({"mesh_trace_ready_endpoints": False} if switched_off else {})


def test_istiod_serves_every_port_on_the_loopback_cluster_ip_where_the_pods_port_forward_arrives():
    flags = listen_flags(ISTIOD_SERVICE, ISTIOD_CONTAINER, "127.101.0.20")
    assert flags == ["--httpAddr=127.101.0.20:8080", "--grpcAddr=127.101.0.20:15010",
                     "--secureGRPCAddr=127.101.0.20:15012", "--httpsAddr=127.101.0.20:443",
                     "--monitoringAddr=127.101.0.20:15014", "--ctrlz_address=127.101.0.20"]
    pod = {"metadata": {"name": "istiod-abc", "namespace": "istio-system", "uid": "u-1"}}
    forward = port_forward(pod, "127.101.0.20")
    assert forward["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "istiod-abc",
                                                       "uid": "u-1"}]
    assert forward["spec"] == {"forwards": [{"ports": [15014], "target": {"address": "127.101.0.20", "port": 15014}}]}


def test_a_namespace_that_is_gone_is_refused_with_what_to_do():
    name = "meshops-lab-test-never-created"
    assert not netns.inside(name)
    with pytest.raises(LabError, match=f"network namespace {name}, which is gone.*python -m lab down"):
        netns.enter(name)


def test_exec_needs_a_command_and_a_lab(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    assert main(["exec", "--"]) == 2
    assert "no command given" in capsys.readouterr().err
    assert main(["exec", "--", "true"]) == 2
    assert "no lab running" in capsys.readouterr().err
