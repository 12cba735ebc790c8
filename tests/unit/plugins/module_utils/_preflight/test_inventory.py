import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.inventory import FleetError, check_fleet


def cluster(host, **kw):
    base = dict(host=host, name=host, network="net-" + host, mesh_id="mesh1", trust_domain="cluster.local",
                chart_version="1.29.0", shared_values={}, values_override={}, istio_namespace="istio-system",
                gateway_name="istio-eastwestgateway", revision="1-29-0", tags={"stable": "stable", "canary": "canary"})
    base.update(kw)
    return base


def test_a_consistent_fleet_passes_and_is_identical():
    summary = check_fleet([cluster("east"), cluster("west")])
    assert summary["clusters"] == ["east", "west"]
    assert summary["identical_control_planes"]


@pytest.mark.parametrize("name, expected", [
    ("Cluster_1", "must be lowercase letters"),
    ("a" * 64, "is 64 characters long (at most 63)"),
    ("", "is empty"),
])
def test_cluster_name_must_be_a_dns_label(name, expected):
    with pytest.raises(FleetError) as exc:
        check_fleet([cluster("east", name=name)])
    assert "east: mesh_cluster_name=%r %s" % (name, expected) in str(exc.value)


def test_duplicate_cluster_names_name_both_hosts():
    with pytest.raises(FleetError) as exc:
        check_fleet([cluster("east", name="one"), cluster("west", name="one")])
    assert "west: mesh_cluster_name='one' is also the name of east" in str(exc.value)


def test_network_must_be_a_dns_label():
    with pytest.raises(FleetError, match="mesh_network='net 1'"):
        check_fleet([cluster("east", network="net 1")])


def test_mesh_id_must_be_the_same_everywhere():
    with pytest.raises(FleetError, match=r"mesh_id differs between clusters \('mesh1' on east; 'mesh2' on west\)"):
        check_fleet([cluster("east"), cluster("west", mesh_id="mesh2")])


def test_override_of_an_identity_value_is_refused():
    with pytest.raises(FleetError, match="west: mesh_istio_values_override sets meshConfig.trustDomain"):
        check_fleet([cluster("east"), cluster("west", values_override={"meshConfig": {"trustDomain": "x"}})])


def test_every_problem_is_listed_at_once():
    with pytest.raises(FleetError, match="3 problem"):
        check_fleet([cluster("east", name="A"), cluster("west", network="-x", mesh_id="other")])


def test_different_chart_version_makes_the_fleet_not_identical():
    summary = check_fleet([cluster("east"), cluster("west", chart_version="1.28.0")])
    assert not summary["identical_control_planes"]
    assert sorted(map(tuple, summary["control_plane_identities"].values())) == [("east",), ("west",)]


def test_empty_inventory_says_what_to_do():
    with pytest.raises(FleetError, match="add hosts to the group mesh_clusters"):
        check_fleet([])


def test_the_control_plane_namespace_is_a_label_and_the_same_everywhere():
    long_name = "n" * 64
    with pytest.raises(FleetError) as refused:
        check_fleet([cluster("east", istio_namespace=long_name), cluster("west", istio_namespace="mesh-system")])
    message = str(refused.value)
    assert "east: mesh_istio_namespace='%s' is 64 characters long (at most 63)" % long_name in message
    assert "mesh_istio_namespace differs between clusters" in message
    assert check_fleet([cluster("east", istio_namespace="mesh-system"), cluster("west", istio_namespace="mesh-system")])


# Who each cluster is (issue #20, finding 10): the API server's word, not the inventory's.

from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.inventory import (  # noqa: E402
    check_identities, check_single_api_server, cluster_uid, read_clusters)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError  # noqa: E402


class FakeClient:
    """The two calls the identity check makes: GET namespace kube-system, GET /version."""

    def __init__(self, uid=None, error=None, host="https://127.0.0.1:6443", version="v1.34.4", version_error=None):
        self.uid, self.error, self.host = uid, error, host
        self.version, self.version_error = version, version_error
        self.calls = []

    def get(self, kind, name, namespace=None):
        self.calls.append((kind, name, namespace))
        if self.error:
            raise KubeError(self.error)
        return {"metadata": {"name": name, "uid": self.uid}} if self.uid else None

    def request(self, method, path):
        self.calls.append((method, path))
        if self.version_error:
            raise KubeError(self.version_error)
        return {"major": "1", "minor": "34", "gitVersion": self.version}


def test_the_cluster_is_who_its_kube_system_namespace_says():
    client = FakeClient("0b4e2b8c")
    assert cluster_uid(client) == "0b4e2b8c"
    assert client.calls == [("Namespace", "kube-system", None)]


def test_an_api_server_without_kube_system_is_refused():
    with pytest.raises(FleetError, match="the API server at https://127.0.0.1:6443 has no namespace kube-system"):
        cluster_uid(FakeClient(None))


def test_two_hosts_of_one_cluster_are_refused_naming_both_and_the_uid():
    with pytest.raises(FleetError) as exc:
        check_identities({"cluster1": "uid-1", "cluster2": "uid-2", "cluster1-copy": "uid-1"})
    assert "cluster1 and cluster1-copy are the same cluster (namespace kube-system has uid uid-1 in each)" in str(exc.value)
    assert "uid-2" not in str(exc.value)


def test_distinct_clusters_pass():
    check_identities({"cluster1": "uid-1", "cluster2": "uid-2"})


def test_a_cluster_that_cannot_be_read_is_named_with_why():
    clients = {"east": FakeClient("uid-1"), "west": FakeClient(error="cannot reach the Kubernetes API"),
               "north": FakeClient(None)}
    connections = [{"host": host, "kubeconfig": None, "context": host} for host in clients]
    uids, versions, unidentified = read_clusters(connections, lambda c: clients[c["host"]])
    assert uids == {"east": "uid-1"}
    assert versions == {"east": "v1.34.4"}
    assert unidentified["west"] == ("west: cannot read who the cluster is (namespace kube-system), nothing was "
                                    "written to it: cannot reach the Kubernetes API")
    assert set(unidentified) == {"west", "north"}


def test_each_cluster_is_asked_once_for_who_it_is_and_its_version():
    clients = {"east": FakeClient("uid-1", version="v1.35.0+k3s1"), "west": FakeClient("uid-2", version_error="403")}
    connections = [{"host": host, "kubeconfig": None, "context": host} for host in clients]
    uids, versions, unidentified = read_clusters(connections, lambda c: clients[c["host"]])
    # A version that cannot be read only leaves out a warning: the cluster is identified.
    assert (uids, versions, unidentified) == ({"east": "uid-1", "west": "uid-2"}, {"east": "v1.35.0+k3s1", "west": None}, {})
    assert clients["east"].calls == [("Namespace", "kube-system", None), ("GET", "/version")]


def test_k8s_auth_host_with_more_than_one_host_is_refused():
    with pytest.raises(FleetError, match=r"K8S_AUTH_HOST=https://api:6443 is set: every host of the play "
                                         r"\(cluster1, cluster2\) would talk to that one API server"):
        check_single_api_server(["cluster1", "cluster2"], {"K8S_AUTH_HOST": "https://api:6443"})
    check_single_api_server(["cluster1"], {"K8S_AUTH_HOST": "https://api:6443"})
    check_single_api_server(["cluster1", "cluster2"], {})


@pytest.mark.parametrize("revision, expected", [
    ("1.29.0", "no dots"),
    ("default", "'default' is the name of Istio's default tag"),
    ("", "expected a DNS label"),
])
def test_revision_must_be_a_revision_name(revision, expected):
    with pytest.raises(FleetError) as exc:
        check_fleet([cluster("east", revision=revision)])
    assert "east: mesh_istio_revision=%r: " % revision in str(exc.value) and expected in str(exc.value)


def test_the_fleet_shares_one_revision():
    with pytest.raises(FleetError, match="mesh_istio_revision differs between clusters .*'1-30-0' on west"):
        check_fleet([cluster("east"), cluster("west", revision="1-30-0")])


@pytest.mark.parametrize("tags, expected", [
    ({"stable": "default", "canary": "canary"}, "mesh_istio_tags.stable='default': 'default' is the name"),
    ({"stable": "prod", "canary": "Canary"}, "mesh_istio_tags.canary='Canary': expected a DNS label"),
    ({"stable": "prod", "canary": "prod"}, "names 'prod' for both stable and canary"),
    ({"stable": "prod"}, "expected a dict with exactly the keys stable and canary"),
])
def test_tag_names_are_revision_names_other_than_default(tags, expected):
    with pytest.raises(FleetError) as exc:
        check_fleet([cluster("east", tags=tags)])
    assert "east: " in str(exc.value) and expected in str(exc.value)
