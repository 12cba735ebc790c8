"""site.yml --check --diff on a fleet where nothing is installed: nothing is written (the API
servers' audit logs show no write request), the fleet check reports what the run would write as
pending, and the run succeeds.

It wants the session lab fresh. The file's name sorts before every other integration test, so in a
full run it is the first to use the lab (nothing installed yet, no extra lab, no extra minute); run
alone against a lab other tests already used, it uninstalls first (slower, same assertions)."""

from __future__ import annotations

import json

import pytest


def installed(lab):
    """Clusters holding anything the collection installs (its CA Secret, istiod, the zone records)."""
    return [name for name in lab.names for kind, obj in (("Secret", "cacerts"), ("Deployment", lab.istiod),
                                                         ("ConfigMap", "istiocoredns-records"))
            if lab.client(name).get(kind, obj, "istio-system") is not None]


@pytest.fixture(scope="module")
def fresh_lab(lab, ansible_playbook):
    if installed(lab):
        run = ansible_playbook("uninstall.yml")
        assert run.rc == 0, run.stdout[-3000:]
    assert not installed(lab)
    return lab


def test_check_mode_on_a_fresh_fleet_writes_nothing_reports_pending_and_succeeds(fresh_lab, ansible_playbook):
    before = fresh_lab.writes(user_agent="")  # any client of the lab's admin: modules, helm, kubectl
    run = ansible_playbook("site.yml", "--check", "--diff")
    assert run.rc == 0, run.stdout[-5000:]
    assert fresh_lab.writes(user_agent="") == before, "check mode wrote to a cluster"
    assert "Traceback" not in run.stdout + run.stderr
    model = json.loads((fresh_lab.dir / "reports" / "mesh-report.json").read_text())
    statuses = {r["status"] for c in model["clusters"] for r in c["results"].values()}
    assert model["ok"] and model["pending"] > 0 and "fail" not in statuses, statuses
    assert {c["name"] for c in model["clusters"]} == set(fresh_lab.names)
    control_plane = model["clusters"][0]["results"]["control_plane"]
    assert control_plane["status"] == "pending" and "not installed" in control_plane["detail"]
    # The table and the rollout summary say what is pending.
    assert "PENDING" in run.stdout and "pending (check mode: the run would write them)" in run.stdout
    assert not installed(fresh_lab)
