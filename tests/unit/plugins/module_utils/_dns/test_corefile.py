"""Corefile parsing and the marked global block, over Corefiles real distributions ship."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.corefile import CorefileError

CORPUS = Path(__file__).parent / "data" / "corefiles"
INDEX = yaml.safe_load((CORPUS / "index.yaml").read_text())
EDITABLE = sorted(name for name, entry in INDEX.items() if "refused" not in entry)
REFUSED = sorted(name for name, entry in INDEX.items() if "refused" in entry)


def read(name):
    with open(CORPUS / name, newline="") as f:  # keep every byte, \r included
        return f.read()


def plugin_of(name):
    return corefile.forward_plugin(corefile.coredns_version(INDEX[name]["image"]))


def other_lines(a, b):
    """Lines of a and b that differ, pairwise (both texts have the same number of lines)."""
    a, b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def test_corpus_is_complete():
    assert {"kubeadm.Corefile", "k3s.Corefile", "rke2.Corefile", "eks.Corefile", "aks.Corefile",
            "aks-custom-puglife.server", "kubeadm-marked.Corefile", "kubeadm-1.13-proxy.Corefile"} <= set(EDITABLE)
    assert "istio-1.1-global.Corefile" in REFUSED
    assert (CORPUS / "gke-kube-dns.yaml").exists()


@pytest.mark.parametrize("name", sorted(INDEX))
def test_corpus_parses(name):
    blocks = corefile.parse(read(name))
    assert blocks and all(block.keys for block in blocks)


@pytest.mark.parametrize("name", EDITABLE)
def test_add_update_remove_restores_every_byte(name):
    original = read(name)
    plugin = plugin_of(name)
    pristine = read(INDEX[name].get("original", name))

    added = corefile.upsert(original, "global", ["10.96.0.20"], plugin)
    corefile.parse(added)
    assert "    %s . 10.96.0.20\n" % plugin in added
    assert added.endswith(original) or "original" in INDEX[name]
    assert corefile.upsert(added, "global", ["10.96.0.20"], plugin) == added  # second run: no change

    updated = corefile.upsert(added, "global", ["10.96.0.21", "10.96.0.22"], plugin)
    corefile.parse(updated)
    assert other_lines(added, updated) == [("    %s . 10.96.0.20\n" % plugin,
                                            "    %s . 10.96.0.21 10.96.0.22\n" % plugin)]

    removed = corefile.remove(updated, "global")
    corefile.parse(removed)
    assert removed == pristine
    assert corefile.remove(removed, "global") == removed


def test_block_goes_first_and_serves_the_zone():
    added = corefile.upsert(read("kubeadm.Corefile"), "global", ["10.96.0.20"])
    assert added.startswith("# BEGIN meshops.multicluster global\nglobal:53 {\n    errors\n    cache 30\n"
                            "    forward . 10.96.0.20\n}\n# END meshops.multicluster global\n.:53 {\n")
    zones = [list(block.zones()) for block in corefile.parse(added)]
    assert zones == [[("global", 53)], [(".", 53)]]


def test_updates_in_place_where_the_block_was_moved():
    text = read("kubeadm.Corefile") + corefile.render_block("global", ["10.0.0.1"])
    updated = corefile.upsert(text, "global", ["10.0.0.2"])
    assert updated == read("kubeadm.Corefile") + corefile.render_block("global", ["10.0.0.2"])
    assert corefile.remove(updated, "global") == read("kubeadm.Corefile")


def test_proxy_only_before_coredns_1_5():
    assert plugin_of("kubeadm-1.13-proxy.Corefile") == "proxy"
    assert {plugin_of(name) for name in EDITABLE if "proxy" not in name} == {"forward"}
    assert corefile.forward_plugin((1, 4, 0)) == "proxy"
    assert corefile.forward_plugin((1, 5, 0)) == "forward"
    assert corefile.forward_plugin(None) == "forward"


@pytest.mark.parametrize("image, version", [
    ("registry.k8s.io/coredns/coredns:v1.11.1", (1, 11, 1)),
    ("coredns/coredns:1.2.6", (1, 2, 6)),
    ("k8s.gcr.io/coredns:1.1.3", (1, 1, 3)),
    ("602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.4-eksbuild.2", (1, 11, 4)),
    ("mcr.microsoft.com/oss/kubernetes/coredns:v1.9.4-hotfix.20240704", (1, 9, 4)),
    ("rancher/hardened-coredns:v1.12.1-build20250401", (1, 12, 1)),
    ("localhost:5000/coredns/coredns:1.4", (1, 4, 0)),
    ("localhost:5000/coredns/coredns", None),
    ("coredns/coredns@sha256:" + "a" * 64, None),
    ("coredns/coredns:latest", None),
    ("", None),
])
def test_coredns_version_from_image(image, version):
    assert corefile.coredns_version(image) == version


@pytest.mark.parametrize("name", REFUSED)
def test_refuses_a_zone_served_outside_the_markers(name):
    text = read(name)
    with pytest.raises(CorefileError, match=INDEX[name]["refused"]) as info:
        corefile.upsert(text, "global", ["10.96.0.20"], plugin_of(name))
    assert "line 16" in str(info.value) and "global:53" in str(info.value)
    assert corefile.remove(text, "global") == text


@pytest.mark.parametrize("key", ["global", "global.", "global:53", "dns://global:53", "GLOBAL.:53"])
def test_every_spelling_of_the_zone_conflicts(key):
    text = "%s {\n    whoami\n}\n" % key
    with pytest.raises(CorefileError, match="already serves zone global"):
        corefile.upsert(text, "global", ["10.0.0.1"])


@pytest.mark.parametrize("key", ["global:5353", "tls://global", "mesh.global:53", "example.org"])
def test_other_zones_and_ports_do_not_conflict(key):
    corefile.upsert("%s {\n    whoami\n}\n" % key, "global", ["10.0.0.1"])


@pytest.mark.parametrize("text, message", [
    (".:53 {\n    errors\n", "never closed"),
    (".:53 {\n    errors\n}\n}\n", "unexpected '}'"),
    (".:53 {\n    forward . 1.1.1.1 {\n        force_tcp\n}\n", "never closed"),
    (". { whoami }\n", "unexpected '}'"),
    (".:53 {\n    errors\n    forward . \"1.1.1.1\n}\n", "quoted text is never closed"),
    ("example.org,\n", "end of file"),
    ("example.org, {\n    whoami\n}\n", "another server block key"),
    ("exa mple.org:53 {\n    whoami\n}\n", None),
    (".:53 {\n    Forward . 1.1.1.1\n}\n", "not a plugin name"),
    (".:53 {\n    import\n}\n", "import needs"),
    (".:53 {\n    import a b\n}\n", "only one argument"),
    ("(snip) {\n    errors\n}\n(snip) {\n    log\n}\n", "redeclaration"),
    ("(snip)\n", "has no directives"),
    ("example.org\n", "has no directives"),
])
def test_bad_corefiles_are_refused_before_the_edit(text, message):
    if message is None:  # two keys on one line are fine
        corefile.parse(text)
        return
    with pytest.raises(CorefileError, match=message):
        corefile.parse(text)
    with pytest.raises(CorefileError, match="does not parse .*left unchanged"):
        corefile.upsert(text, "global", ["10.0.0.1"])


def test_syntax_coredns_accepts():
    text = (
        "# a comment line\n"
        "(common) {\n    errors\n    log {\n        class denial\n    }\n}\n"
        "example.org:53, example.net:53 {\n    import common\n"
        "    template IN A example.org {\n        answer \"{{ .Name }} 60 IN A 127.0.0.1\"  # quoted braces\n    }\n}\n"
        "tls://example.com:853 dns://{$ZONE}:{$PORT} {\n    tls cert.pem key.pem\n    forward . {%UPSTREAM%}\n}\n"
        "10.0.0.0/8 fd00::/8:53 {\n    whoami#comment\n}\n"
        "import /etc/coredns/custom/*.server\n"
    )
    blocks = corefile.parse(text)
    assert [block.keys for block in blocks] == [["example.org:53", "example.net:53"],
                                                ["tls://example.com:853", "dns://{$ZONE}:{$PORT}"],
                                                ["10.0.0.0/8", "fd00::/8:53"]]
    assert [block.line for block in blocks] == [8, 14, 18]
    assert list(blocks[1].zones()) == [("example.com", 853), ("{$zone}", None)]
    assert list(blocks[2].zones()) == [("10.0.0.0/8", 53), ("fd00::/8", 53)]


def test_tokens_as_coredns_cuts_them():
    tokens = corefile.tokenize('a#b c\n  # x y\n"q \\"u\\" \\o#"  d{$E}\n')
    assert [(token.text, token.line) for token in tokens] == [("a", 1), ("c", 1), ('q "u" \\o#', 3), ("d{$E}", 3)]


def test_a_single_server_block_without_braces():
    text = ".:1053\nwhoami\nlog\n"
    assert [block.keys for block in corefile.parse(text)] == [[".:1053"]]
    added = corefile.upsert(text, "global", ["10.0.0.1"])
    assert corefile.remove(added, "global") == text


def test_crlf_line_ends_survive():
    text = read("kubeadm.Corefile").replace("\n", "\r\n")
    added = corefile.upsert(text, "global", ["10.0.0.1"])
    assert added.endswith(text)
    assert corefile.remove(corefile.upsert(added, "global", ["10.0.0.2"]), "global") == text


def test_empty_text_for_a_coredns_custom_key():
    block = corefile.upsert(None, "global", ["10.0.0.1"])
    assert block == corefile.render_block("global", ["10.0.0.1"])
    assert corefile.remove(block, "global") == ""
    assert corefile.remove(None, "global") == ""


def test_zones_are_kept_apart():
    text = read("k3s.Corefile")
    both = corefile.upsert(corefile.upsert(text, "global", ["10.0.0.1"]), "mesh.example", ["fd00::1"])
    assert "    forward . fd00::1\n" in both
    assert corefile.remove(both, "mesh.example") == corefile.upsert(text, "global", ["10.0.0.1"])
    assert corefile.remove(corefile.remove(both, "global"), "mesh.example") == text


@pytest.mark.parametrize("lines, message", [
    (["# BEGIN meshops.multicluster global\n"], "1 begin, 0 end"),
    (["# END meshops.multicluster global\n", "# BEGIN meshops.multicluster global\n"], "1 begin, 1 end"),
    (["# BEGIN meshops.multicluster global\n"] * 2 + ["# END meshops.multicluster global\n"], "2 begin, 1 end"),
])
def test_broken_markers_are_left_to_a_human(lines, message):
    text = "".join(lines) + read("kubeadm.Corefile")
    for edit in (lambda: corefile.upsert(text, "global", ["10.0.0.1"]), lambda: corefile.remove(text, "global")):
        with pytest.raises(CorefileError, match=message):
            edit()


@pytest.mark.parametrize("zone", ["", ".", "not a zone", "-global", "glo_bal", "a" * 64, "global.."])
def test_zone_must_be_a_dns_name(zone):
    with pytest.raises(ValueError, match="zone: .* is not a DNS name"):
        corefile.upsert(read("kubeadm.Corefile"), zone, ["10.0.0.1"])


@pytest.mark.parametrize("target", ["10.0.0.300", "kube-dns.kube-system", "", "10.0.0.1:53"])
def test_targets_must_be_ip_addresses(target):
    with pytest.raises(ValueError, match="target_ips: .* is not an IP address"):
        corefile.upsert(read("kubeadm.Corefile"), "global", [target])


def test_at_least_one_target_and_a_known_plugin():
    with pytest.raises(ValueError, match="at least one IP"):
        corefile.upsert("", "global", [])
    with pytest.raises(ValueError, match="plugin"):
        corefile.render_block("global", ["10.0.0.1"], "grpc")


def deployment(name, image, volumes, labels=None):
    return {"metadata": {"name": name, "labels": labels or {"k8s-app": "kube-dns"}},
            "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}], "volumes": volumes}}}}


KUBEADM = deployment("coredns", "registry.k8s.io/coredns/coredns:v1.12.1",
                     [{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile"}]}}])
K3S = deployment("coredns", "rancher/mirrored-coredns-coredns:1.11.3", [
    {"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile"}, {"key": "NodeHosts"}]}},
    {"name": "custom-config-volume", "configMap": {"name": "coredns-custom", "optional": True}}])
RKE2 = deployment("rke2-coredns-rke2-coredns", "rancher/hardened-coredns:v1.12.1-build20250401", [
    {"name": "config-volume", "configMap": {"name": "rke2-coredns-rke2-coredns", "items": [{"key": "Corefile"}]}}])
KUBE_DNS = deployment("kube-dns", "registry.k8s.io/dns/k8s-dns-kube-dns:1.26.4",
                      [{"name": "kube-dns-config", "configMap": {"name": "kube-dns", "optional": True}}])
AUTOSCALER = deployment("coredns-autoscaler", "registry.k8s.io/cpa/cluster-proportional-autoscaler:1.8.5", [],
                        labels={"k8s-app": "coredns-autoscaler"})


@pytest.fixture(scope="module")
def mesh_dns():
    from ansible_collections.meshops.multicluster.plugins.module_utils._dns import cluster_dns
    return cluster_dns


@pytest.mark.parametrize("deployments, name, configmap", [
    ([AUTOSCALER, KUBEADM], "coredns", "coredns"),
    ([K3S], "coredns", "coredns"),
    ([AUTOSCALER, RKE2], "rke2-coredns-rke2-coredns", "rke2-coredns-rke2-coredns"),
    ([KUBE_DNS, AUTOSCALER], None, None),
])
def test_finds_the_coredns_deployment_and_its_corefile_configmap(mesh_dns, deployments, name, configmap):
    found = mesh_dns.coredns_deployment(deployments)
    assert (found and found["metadata"]["name"]) == name
    assert (found and mesh_dns.corefile_configmap(found)) == configmap


@pytest.mark.parametrize("text", ['"global\n":53 {\n    errors\n}\n', '.:53 {\n    "errors\n"\n}\n'])
def test_keys_and_plugin_names_are_matched_whole(text):
    # A quoted token may hold a newline: a '$'-anchored pattern let 'global\n' pass as a zone.
    with pytest.raises(corefile.CorefileError):
        corefile.parse(text)
