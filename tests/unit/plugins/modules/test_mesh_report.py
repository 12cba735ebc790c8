"""mesh_report as the verify role calls it: the failed checks counted once (failed_count, the message),
the report written either way, and failing only when asked to."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.meshops.multicluster.plugins.modules import mesh_report


def run(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        mesh_report.main()
    return json.loads(capsys.readouterr().out)


def cluster(name, exists=True):
    """A converged cluster, or (exists=False) one without its cacerts Secret."""
    return {"name": name, "network": "n", "reachable": True,
            "trust": {"exists": exists, "valid": True, "root_fingerprint": "ab", "intermediate": {"days_left": 300}},
            "check": {"releases": {"istio-base": {"version": "1.29.0"}, "istiod": {"version": "1.29.0", "values": {}}},
                      "gateway": {"address": "127.0.0.1", "port": 15443, "source": "override"},
                      "zone_records": {}, "not_ready": {}, "malformed": []},
            "dns_delegated": True, "expected_records": {}, "service_entries": None}


FLEET = {"mesh_id": "mesh1", "root_fingerprint": "ab", "chart_version": "1.29.0", "releases": ["istio-base", "istiod"],
         "gateway_name": "istio-eastwestgateway"}


def test_a_passing_fleet_reports_no_failed_check(capsys, tmp_path):
    out = run(capsys, clusters=[cluster("cluster1")], fleet=FLEET, report_dir=str(tmp_path))
    assert not out.get("failed") and out["ok"] and out["failed_count"] == 0 and not out["changed"]
    assert out["files"] == [str(tmp_path / "mesh-report.html"), str(tmp_path / "mesh-report.json")]
    assert json.loads((tmp_path / "mesh-report.json").read_text()) == out["report"]
    assert out["text"][0].endswith(": All checks pass")


def test_failed_checks_are_counted_once_and_fail_the_module_only_when_asked(capsys, tmp_path):
    clusters = [cluster("cluster1", exists=False), cluster("cluster2")]
    out = run(capsys, clusters=clusters, fleet=FLEET, report_dir=str(tmp_path), fail_on_error=False)
    assert not out.get("failed") and not out["ok"] and out["failed_count"] == 2
    out = run(capsys, clusters=clusters, fleet=FLEET, report_dir=str(tmp_path))
    assert out["failed"] and out["failed_count"] == 2 and out["text"][0].endswith(": 2 failed, 0 warnings")
    assert out["msg"] == ("the fleet check failed 2 check(s): cluster1: root (no cacerts Secret); "
                          "cluster1: intermediate (no intermediate CA)")
    assert (tmp_path / "mesh-report.html").is_file()  # written before failing
