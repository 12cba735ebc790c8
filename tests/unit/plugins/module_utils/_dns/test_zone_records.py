"""The zone server contract: records file, names, objects."""

import json
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import zone_records as zr
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, ZONE_RECORDS, ZONE_SERVER, is_ours

ROLE = Path(__file__).resolve().parents[5] / "roles" / "dns"


def test_render_hosts_sorted_one_line_each_and_parse_back():
    records = {"reviews.bookinfo.global": "240.0.0.3", "httpbin.bar.global": "240.0.0.2", "A.Foo.Global": "fd00::1"}
    text = zr.render_hosts(records)
    assert text.startswith("# ")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "fd00::1 a.foo.global", "240.0.0.2 httpbin.bar.global", "240.0.0.3 reviews.bookinfo.global"]
    assert zr.parse_hosts(text) == {"a.foo.global": "fd00::1", "httpbin.bar.global": "240.0.0.2",
                                    "reviews.bookinfo.global": "240.0.0.3"}
    assert zr.render_hosts({}) == zr.hosts_header()
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
    assert (ISTIO_NAMESPACE, ZONE_SERVER, ZONE_RECORDS, zr.RECORDS_KEY) == (
        "istio-system", "istiocoredns", "istiocoredns-records", "global.hosts")
    assert zr.RECORDS_PATH == "/etc/coredns/records/global.hosts"


def render_zone_server(**overrides):
    """The role's zone server objects as the role renders them with its defaults (and the preflight's
    fact mesh_cluster for the default control-plane namespace)."""
    variables = dict(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
                     mesh_cluster={"istio_namespace": ISTIO_NAMESPACE}, **overrides)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    return yaml.safe_load(env.from_string((ROLE / "templates" / "zone-server.yml.j2").read_text()).render(variables))


def test_zone_server_template_keeps_the_contract():
    configmap, deployment, service = render_zone_server(mesh_dns_zone_server_tag="1.11.3")
    for obj in (configmap, deployment, service):
        assert obj["metadata"]["name"] == ZONE_SERVER and obj["metadata"]["namespace"] == ISTIO_NAMESPACE
    corefile_text = configmap["data"]["Corefile"]
    blocks = corefile.parse(corefile_text)
    assert [list(block.zones()) for block in blocks] == [[(zr.ZONE, 53)]]
    assert "    hosts %s {\n" % zr.RECORDS_PATH in corefile_text and "reload 2s" in corefile_text
    assert "fallthrough" not in corefile_text and "errors" in corefile_text and "cache" in corefile_text

    pod = deployment["spec"]["template"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == service["spec"]["selector"] == {"app": ZONE_SERVER}
    # No sidecar, said with the label (the annotation is deprecated: istioctl analyze IST0135).
    assert pod["metadata"]["labels"] == dict(selector, **{"sidecar.istio.io/inject": "false"})
    assert "annotations" not in pod["metadata"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "coredns/coredns:1.11.3"
    volumes = {volume["name"]: volume["configMap"] for volume in pod["spec"]["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}
    conf = container["args"][container["args"].index("-conf") + 1]
    config_dir, _slash, config_file = conf.rpartition("/")
    assert mounts[config_dir] == {"name": ZONE_SERVER, "items": [{"key": "Corefile", "path": config_file}]}
    assert mounts[zr.RECORDS_DIR] == {"name": ZONE_RECORDS, "optional": True,
                                      "items": [{"key": zr.RECORDS_KEY, "path": zr.RECORDS_KEY}]}
    assert deployment["spec"]["replicas"] == 2
    assert [(port["port"], port["protocol"]) for port in service["spec"]["ports"]] == [(53, "UDP"), (53, "TCP")]


def test_records_configmap_is_labelled():
    records = zr.records_configmap({"httpbin.bar.global": "240.0.0.2"})
    assert is_ours(records)
    assert (records["metadata"]["namespace"], records["metadata"]["name"]) == (ISTIO_NAMESPACE, ZONE_RECORDS)
    assert records["data"] == {zr.RECORDS_KEY: zr.render_hosts({"httpbin.bar.global": "240.0.0.2"})}


def test_records_header_names_the_zone_server_of_their_namespace():
    """The header says which zone server serves the file: the one in the records' own namespace."""
    assert "served by istio-system/istiocoredns." in zr.render_hosts({})
    records = zr.records_configmap({"httpbin.bar.global": "240.0.0.2"}, namespace="mesh-cp")
    text = records["data"][zr.RECORDS_KEY]
    assert text.startswith(zr.hosts_header("mesh-cp"))
    assert "served by mesh-cp/istiocoredns." in text and "istio-system" not in text
    assert zr.parse_hosts(text) == {"httpbin.bar.global": "240.0.0.2"}


@pytest.mark.parametrize("value", ["global\n", " global", "global "])
def test_dns_names_with_surrounding_whitespace_are_refused(value):
    with pytest.raises(ValueError, match="zone"):
        zr.check_dns_name(value)
