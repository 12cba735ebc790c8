"""The end-of-run summary: which clusters converged, failed (and why) or were not reached."""

from ansible_collections.meshops.multicluster.plugins.callback.mesh_summary import summarize

PLAYS = ["Trust", "Control plane"]
OK = {"failures": 0, "unreachable": 0}


def test_a_failed_cluster_is_named_with_its_step_task_and_message_and_the_others_converge():
    sections = summarize(
        targeted={"east": PLAYS, "west": PLAYS},
        ran={"east": PLAYS, "west": ["Trust"]},
        failure={"west": ("Trust", "Ensure the intermediate", "cannot reach the Kubernetes API")},
        fleet_failures=[], counts={"east": OK, "west": {"failures": 1, "unreachable": 0}})
    assert sections["converged"] == ["east"]
    assert sections["failed"] == ["west - Trust / Ensure the intermediate: cannot reach the Kubernetes API"]
    assert sections["not reached"] == [] and sections["fleet-wide failures"] == []


def test_a_failed_canary_leaves_the_others_not_reached():
    sections = summarize(
        targeted={"west": ["Trust"], "east": ["Trust"], "south": ["Trust"]}, ran={"west": ["Trust"]},
        failure={"west": ("Trust", "t", "m")}, fleet_failures=[],
        counts={"west": {"failures": 1, "unreachable": 0}})
    assert sections["converged"] == [] and len(sections["failed"]) == 1
    assert [line.split(" - ")[0] for line in sections["not reached"]] == ["east", "south"]


def test_a_fleet_wide_failure_is_not_charged_to_the_host_that_ran_it():
    sections = summarize(
        targeted={"east": ["Verify"], "west": ["Verify"]}, ran={"east": ["Verify"], "west": ["Verify"]},
        failure={}, fleet_failures=[("Verify", "Fail when a check failed", "1 check(s) failed")],
        counts={"east": {"failures": 1, "unreachable": 0}, "west": OK})
    assert sections["converged"] == ["east", "west"]
    assert sections["fleet-wide failures"] == ["Verify / Fail when a check failed: 1 check(s) failed"]
