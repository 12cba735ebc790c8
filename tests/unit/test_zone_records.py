"""The zone server contract: records file, names, objects."""

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils import zone_records as zr
from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import is_ours


def test_render_hosts_sorted_one_line_each_and_parse_back():
    records = {"reviews.bookinfo.global": "240.0.0.3", "httpbin.bar.global": "240.0.0.2", "A.Foo.Global": "fd00::1"}
    text = zr.render_hosts(records)
    assert text.startswith("# ")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "fd00::1 a.foo.global", "240.0.0.2 httpbin.bar.global", "240.0.0.3 reviews.bookinfo.global"]
    assert zr.parse_hosts(text) == {"a.foo.global": "fd00::1", "httpbin.bar.global": "240.0.0.2",
                                    "reviews.bookinfo.global": "240.0.0.3"}
    assert zr.render_hosts({}) == zr.HOSTS_HEADER
    assert zr.parse_hosts(zr.render_hosts({})) == {} == zr.parse_hosts(None)


def test_parse_hosts_reads_hand_written_files():
    text = "\n# comment\n240.0.0.2  a.b.global  c.d.global # two names\n\t240.0.0.3 e.f.global\n"
    assert zr.parse_hosts(text) == {"a.b.global": "240.0.0.2", "c.d.global": "240.0.0.2", "e.f.global": "240.0.0.3"}


@pytest.mark.parametrize("records, message", [
    ({"httpbin.bar.global": "240.0.0.300"}, "not an IP address"),
    ({"httpbin bar.global": "240.0.0.2"}, "not a DNS name"),
    ({"httpbin.bar.svc.cluster.local": "240.0.0.2"}, "not in zone global"),
])
def test_render_hosts_refuses_bad_records(records, message):
    with pytest.raises(ValueError, match=message):
        zr.render_hosts(records)


@pytest.mark.parametrize("text, message", [("240.0.0.2\n", "line 1 .* is not '<ip> <host>'"),
                                           ("x a.b.global\n", "not an IP address")])
def test_parse_hosts_refuses_bad_lines(text, message):
    with pytest.raises(ValueError, match=message):
        zr.parse_hosts(text)


def test_names_of_the_contract():
    assert (zr.NAMESPACE, zr.ZONE_SERVER_NAME, zr.RECORDS_CONFIGMAP, zr.RECORDS_KEY) == (
        "istio-system", "istiocoredns", "istiocoredns-records", "global.hosts")
    assert zr.RECORDS_PATH == "/etc/coredns/records/global.hosts"
    assert "reload 2s" in zr.ZONE_SERVER_COREFILE


def test_objects_are_labelled_and_wired_together():
    configmap, deployment, service = zr.zone_server_objects("coredns/coredns:1.12.1", replicas=1)
    records = zr.records_configmap({"httpbin.bar.global": "240.0.0.2"})
    for obj in (configmap, deployment, service, records):
        assert is_ours(obj) and obj["metadata"]["namespace"] == "istio-system"
    assert configmap["metadata"]["name"] == service["metadata"]["name"] == "istiocoredns"
    assert configmap["data"] == {"Corefile": zr.ZONE_SERVER_COREFILE}
    assert records["metadata"]["name"] == "istiocoredns-records"
    assert records["data"] == {"global.hosts": zr.render_hosts({"httpbin.bar.global": "240.0.0.2"})}
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["app"] == service["spec"]["selector"]["app"] == "istiocoredns"
    sources = pod["spec"]["volumes"][0]["projected"]["sources"]
    assert [source["configMap"]["name"] for source in sources] == ["istiocoredns", "istiocoredns-records"]
    assert sources[1]["configMap"]["items"] == [{"key": "global.hosts", "path": "records/global.hosts"}]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "coredns/coredns:1.12.1"
    assert container["volumeMounts"][0]["mountPath"] == "/etc/coredns"
    assert deployment["spec"]["replicas"] == 1
