"""kube-dns stubDomains: merge our key, keep everything else, take exactly our key out again."""

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import kubedns
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.kubedns import KubeDnsError

GKE = yaml.safe_load((Path(__file__).parent / "data" / "corefiles" / "gke-kube-dns.yaml").read_text())


def test_gke_stub_domains_keep_theirs_and_get_ours():
    original = GKE["stubDomains"]
    added = kubedns.merge(original, "global", ["10.96.0.20"])
    assert json.loads(added) == {"example.com": ["8.8.8.8", "8.8.4.4"], "internal": ["169.254.169.254"],
                                 "global": ["10.96.0.20"]}
    assert added.startswith('{\n  "example.com": [\n')  # stays multi-line like the original
    assert kubedns.merge(added, "global", ["10.96.0.20"]) is added  # second run: the same text

    updated = kubedns.merge(added, "global", ["10.96.0.21", "fd00::21"])
    assert json.loads(updated)["global"] == ["10.96.0.21", "fd00::21"]
    assert list(json.loads(updated)) == ["example.com", "internal", "global"]

    removed = kubedns.unmerge(updated, "global")
    assert json.loads(removed) == json.loads(original)
    assert kubedns.unmerge(removed, "global") is removed


def test_absent_stub_domains_come_back_absent():
    added = kubedns.merge(None, "global", ["10.96.0.20"])
    assert added == '{"global": ["10.96.0.20"]}'
    assert kubedns.unmerge(added, "global") is None
    assert kubedns.unmerge(None, "global") is None
    assert kubedns.merge("  \n", "global", ["10.0.0.1"]) == '{"global": ["10.0.0.1"]}'


def test_single_line_json_stays_single_line():
    text = '{"acme.local": ["1.2.3.4"]}\n'
    added = kubedns.merge(text, "global", ["10.0.0.1"])
    assert added == '{"acme.local": ["1.2.3.4"], "global": ["10.0.0.1"]}'
    assert json.loads(kubedns.unmerge(added, "global")) == {"acme.local": ["1.2.3.4"]}


def test_zone_is_normalised():
    added = kubedns.merge('{"global": ["10.0.0.1"]}', "GLOBAL.", ["10.0.0.1"])
    assert added == '{"global": ["10.0.0.1"]}'


@pytest.mark.parametrize("text, message", [
    ('{"acme.local": ["1.2.3.4"],}', "not valid JSON"),
    ("stubDomains: acme.local", "not valid JSON"),
    ('["1.2.3.4"]', "JSON object of lists"),
    ('{"acme.local": "1.2.3.4"}', "JSON object of lists"),
    ('{"acme.local": [1234]}', "JSON object of lists"),
])
def test_bad_stub_domains_are_left_alone(text, message):
    for edit in (lambda: kubedns.merge(text, "global", ["10.0.0.1"]), lambda: kubedns.unmerge(text, "global")):
        with pytest.raises(KubeDnsError, match=message + ".*left unchanged"):
            edit()


@pytest.mark.parametrize("zone", ["", ".", "not a zone", "ex_ample"])
def test_zone_must_be_a_dns_name(zone):
    with pytest.raises(ValueError, match="zone: .* is not a DNS name"):
        kubedns.merge(None, zone, ["10.0.0.1"])


@pytest.mark.parametrize("targets, message", [
    (["10.0.0.256"], "not an IP address"), (["istiocoredns.istio-system"], "not an IP address"),
    ([], "at least one IP"),
])
def test_targets_must_be_ip_addresses(targets, message):
    with pytest.raises(ValueError, match="target_ips: .*" + message):
        kubedns.merge(None, "global", targets)
