import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.meshops.multicluster.plugins.filter.upgrade_plan import FilterModule

FILTERS = FilterModule().filters()
TAGS = {"stable": "stable", "canary": "canary"}
STATE = {"revisions": {"1-30-0": {"version": "1.30.0", "ready": True, "service": True, "in_use_by": []}},
         "tags": {}, "default_revision": "1-30-0", "gateway": {"revision": "1-30-0", "ready": True}}


def test_the_plan_says_when_the_fleet_would_leave_its_version_window():
    plan = FILTERS["upgrade_plan"](STATE, "1-32-0", "1.32.0", TAGS, cluster="west",
                                   fleet_versions={"west": ["1.30.0"], "east": ["1.30.0"]})
    assert "cluster(s) east would run more than one minor from the fleet's newest (1.32)" in plan["window"]
    assert FILTERS["upgrade_plan"](STATE, "1-31-0", "1.31.0", TAGS, fleet_versions={"east": ["1.30.0"]})["window"] is None


def test_a_cluster_that_cannot_be_planned_fails_the_filter_with_the_reason():
    with pytest.raises(AnsibleFilterError, match="west: cannot roll back from revision 1-30-0: no previous revision"):
        FILTERS["upgrade_plan"](STATE, "1-30-0", "1.30.0", TAGS, cluster="west", rollback=True)


def test_gates_and_removal_as_the_role_reads_them():
    gates = FILTERS["upgrade_gates"](STATE, "1-30-0", cluster="west", gates=["istiod_ready", "webhooks"])
    assert gates == {"ok": True, "failures": [], "message": ""}
    assert FILTERS["upgrade_removal"](STATE, STATE, "1-31-0") == {"remove": [], "kept": {
        "1-30-0": ["istio-base defaultRevision"]}}
