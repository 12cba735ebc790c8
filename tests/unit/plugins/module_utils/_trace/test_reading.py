"""What the trace makes of istiod's debug views (outside input: another Istio may shape them otherwise)
and of the port-forward's channel messages."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.portforward import DATA, ERROR, split_message
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.reading import _istiod_host, debug_hosts

HOST = "httpbin.bar.global"
# Trimmed from Istio 1.31's /debug/registryz and /debug/endpointShardz on the lab (a ServiceEntry of
# the services step: VIP, two remote gateways on 15443).
REGISTRY = [
    {"hostname": "istiod.istio-system.svc.cluster.local", "defaultAddress": "127.101.0.20", "Resolution": 0,
     "clusterVIPs": {"Addresses": {"cluster2": ["127.101.0.20"]}}, "ports": [{"name": "grpc-xds", "port": 15010}]},
    {"Attributes": {"ServiceRegistry": "External", "Name": HOST, "Namespace": "bar"},
     "ports": [{"name": "http", "port": 8000, "protocol": "HTTP"}], "creationTime": "2026-12-06T20:11:47Z",
     "hostname": HOST, "clusterVIPs": {"Addresses": {"cluster2": ["240.240.0.7"]}}, "defaultAddress": "240.240.0.7",
     "Resolution": 0, "MeshExternal": True, "ResourceVersion": "1540"},
]
SHARDS = {
    HOST: {"bar": {"Shards": {"External/cluster2": [
        {"Labels": {"security.istio.io/tlsMode": "istio"}, "Addresses": ["127.181.0.1"], "ServicePortName": "http",
         "EndpointPort": 15443, "TLSMode": "istio", "Locality": {"Label": "lab-east/zone1"}},
        {"Labels": None, "Addresses": ["127.183.0.1"], "ServicePortName": "http", "EndpointPort": 15443,
         "TLSMode": "istio"}]}, "ServiceAccounts": {}}},
    "istiod.istio-system.svc.cluster.local": {"istio-system": {"Shards": {}, "ServiceAccounts": {}}},
    "elsewhere.example": {"x": {"Shards": {"k": [{"Addresses": "not a list"}]}}},  # not in the registry: not read
}


def test_the_host_as_istiod_holds_it():
    hosts = debug_hosts(REGISTRY, SHARDS)
    assert hosts[HOST] == {"addresses": ["240.240.0.7"], "endpoints": [
        {"address": "127.181.0.1:15443", "tls_mode": "istio"}, {"address": "127.183.0.1:15443", "tls_mode": "istio"}]}
    debug = {"service": "istiod", "pod": "istiod-abc", "hosts": hosts}
    assert _istiod_host(debug, HOST)["registered"] is True
    assert _istiod_host(debug, "other.bar.global") == {"service": "istiod", "pod": "istiod-abc", "registered": False,
                                                       "addresses": [], "endpoints": []}


def test_an_error_reading_them_travels_to_every_host():
    debug = {"error": "403 forbidden", "status": 403, "service": "istiod", "pod": None}
    assert _istiod_host(debug, HOST) == {"error": "403 forbidden", "status": 403, "service": "istiod", "pod": None,
                                         "malformed": None}


@pytest.mark.parametrize("registry, shards", [
    ({}, {}),
    ([{"defaultAddress": "1.2.3.4"}], {}),
    ([{"hostname": HOST, "clusterVIPs": {"Addresses": ["1.2.3.4"]}}], {}),
    ([{"hostname": HOST}], {HOST: {"bar": {"Shards": ["k"]}}}),
    ([{"hostname": HOST}], {HOST: {"bar": {"Shards": {"k": 3}}}}),
    ([{"hostname": HOST}], {HOST: ["bar"]}),
    ([{"hostname": HOST}], {HOST: {"bar": {"Shards": {"k": [{"Addresses": ["1.2.3.4"], "EndpointPort": "80"}]}}}}),
    ([{"hostname": HOST}], {HOST: {"bar": {"Shards": {"k": [{"Addresses": [], "EndpointPort": 80}]}}}}),
])
def test_views_of_another_shape_are_refused_with_what_is_wrong(registry, shards):
    with pytest.raises(ValueError):
        debug_hosts(registry, shards)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12)
ENDPOINT = st.fixed_dictionaries({"Addresses": st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=2),
                                  "EndpointPort": st.integers(0, 65535)},
                                 optional={"TLSMode": st.sampled_from(["istio", "disabled", ""]) | JSON})


@settings(derandomize=True, max_examples=50, deadline=None)
@given(registry=st.lists(st.dictionaries(st.sampled_from(["hostname", "defaultAddress", "clusterVIPs"]), JSON), max_size=2)
       | JSON, shards=st.dictionaries(st.just(HOST), JSON) | JSON)
def test_any_json_is_read_or_refused_with_a_value_error(registry, shards):
    if isinstance(registry, list) and registry and isinstance(registry[0], dict):
        registry[0]["hostname"] = HOST  # reach the shards too
    try:
        hosts = debug_hosts(registry, shards)
    except ValueError:
        return
    assert all(set(held) == {"addresses", "endpoints"} for held in hosts.values())


@settings(derandomize=True, max_examples=50, deadline=None)
@given(hosts=st.dictionaries(st.sampled_from([HOST, "a.b.global", "c.d.global"]),
                             st.tuples(st.ip_addresses(v=4).map(str), st.lists(ENDPOINT, max_size=3)), max_size=3))
def test_every_endpoint_of_a_registered_host_is_read(hosts):
    registry = [{"hostname": host, "defaultAddress": vip} for host, (vip, _endpoints) in hosts.items()]
    shards = {host: {"ns": {"Shards": {"External/c": endpoints}}} for host, (_vip, endpoints) in hosts.items()}
    found = debug_hosts(registry, shards)
    for host, (vip, endpoints) in hosts.items():
        assert found[host]["addresses"] == ([] if vip == "0.0.0.0" else [vip])
        assert [e["address"] for e in found[host]["endpoints"]] == [
            "%s:%d" % (e["Addresses"][0], e["EndpointPort"]) for e in endpoints]
        assert all(isinstance(e["tls_mode"], str) for e in found[host]["endpoints"])


def test_the_first_message_of_each_channel_carries_the_port():
    seen = set()
    assert split_message(b"\x00\x96\x3a", seen) == (DATA, b"")
    assert split_message(b"\x01\x96\x3a", seen) == (ERROR, b"")
    assert split_message(b"\x00HTTP/1.1 200 OK", seen) == (DATA, b"HTTP/1.1 200 OK")
    assert split_message(b"\x01failed to dial", seen) == (ERROR, b"failed to dial")
    assert split_message(b"", seen) == (None, b"")
    with pytest.raises(KubeError, match="without its port"):
        split_message(b"\x00\x96", set())


@settings(derandomize=True, max_examples=50, deadline=None)
@given(messages=st.lists(st.binary(max_size=20), max_size=6))
def test_any_message_is_split_or_refused_with_a_kube_error(messages):
    seen = set()
    for message in messages:
        try:
            channel, payload = split_message(message, seen)
        except KubeError:
            return
        assert channel is None or (channel == message[0] and payload in message)
