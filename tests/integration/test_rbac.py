"""The operate identity of playbooks/rbac.yml (issue 13), against the lab's API servers, which
enforce RBAC and log every request of the identity (audit policy: service accounts of
meshops-system): the day-2 steps pass with it and no request is denied, it reads no Secret but
cacerts, the control plane step fails before writing, and every permission it holds is used."""

from __future__ import annotations

import subprocess

import pytest

from lab.build import ensure_binaries
from labtools import WRITE_VERBS
from ansible_collections.meshops.multicluster.plugins.module_utils._access import permissions
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY_LABEL, managed_labels
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL

OPERATE_USER = "system:serviceaccount:meshops-system:meshops-operate"
# The options the lab's fleet needs (replicate_namespaces) and the trace's port-forward to istiod, which
# playbooks/rbac.yml grants from mesh_trace_istiod_debug.
OPTIONS = ["replicate_namespaces", "istiod_debug"]
ISTIOD_DEBUG = {"mesh_trace_istiod_debug": True}
# A port-forward over a websocket (the trace's) is authorized as get on Kubernetes 1.34, the lab's, and
# as create too from 1.35: that create cannot be seen used here.
UNSEEN = {("pods/portforward", "create")}
EXTRA = "meshops-rbac"  # a namespace of this test's own, with one exported Service


def audit_mark(lab):
    return {name: len(lab.audit_events(name)) for name in lab.names}


def operate_events(lab, since):
    """Audit events of the operate identity, every cluster, after audit_mark() `since`."""
    return [dict(event, cluster=name) for name in lab.names for event in lab.audit_events(name)[since[name]:]
            if (event.get("user") or {}).get("username") == OPERATE_USER]


@pytest.fixture(scope="module")
def operate(lab, converged, ansible_playbook, tmp_path_factory):
    """Extra vars that make a playbook run as the operate identity (one kubeconfig per cluster)."""
    directory = tmp_path_factory.mktemp("operate")
    run = ansible_playbook("rbac.yml", extra_vars=dict(ISTIOD_DEBUG, mesh_rbac_kubeconfig_dir=str(directory)))
    assert run.rc == 0, run.stdout[-4000:]
    yield {"mesh_kubeconfig": "%s/{{ inventory_hostname }}.kubeconfig" % directory, "directory": directory}
    for name in lab.names:
        lab.client(name).delete("Namespace", EXTRA)
    restored = ansible_playbook("site.yml")  # as the administrator: the fleet as the other tests expect it
    assert restored.rc == 0, restored.stdout[-4000:]
    removed = ansible_playbook("rbac.yml", extra_vars={"mesh_rbac_state": "absent"})
    assert removed.rc == 0, removed.stdout[-4000:]


def export_extra(lab, exported):
    client = lab.client(lab.names[0])
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EXTRA}})
    client.apply({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "extra", "namespace": EXTRA, "labels": {EXPORT_LABEL: str(exported).lower()}},
                  "spec": {"selector": {"app": "extra"}, "ports": [{"name": "http", "port": 8000}]}})


@pytest.fixture(scope="module")
def day2(lab, operate, ansible_playbook):
    """Every day-2 step as the operate identity, the uninstall of those steps and the install
    again: {what: rc}, and the identity's audit events of those runs."""
    mark = audit_mark(lab)
    as_operate = {"mesh_kubeconfig": operate["mesh_kubeconfig"]}
    runs = {}

    def run(what, playbook, *args, **extra):
        result = ansible_playbook(playbook, *args, extra_vars=dict(as_operate, **extra))
        runs[what] = result.rc
        assert result.rc == 0, "%s as the operate identity:\n%s" % (what, result.stdout[-4000:])

    run("trust", "trust.yml")
    run("dns", "dns.yml")
    export_extra(lab, True)
    run("services (a new host)", "services.yml")
    # The trace's permissions, not its verdict (the extra Service has no pods): it must read, not be refused.
    run("trace", "trace.yml", mesh_trace_host="extra.%s.global" % EXTRA, mesh_trace_from=lab.names[1], mesh_trace_fail=False,
        **ISTIOD_DEBUG)
    run("verify", "verify.yml")
    run("rotate intermediates", "rotate.yml", mesh_ca_rotate_phase="intermediates")
    run("uninstall of trust, dns and services", "uninstall.yml", "--tags", "services,dns,trust")
    run("trust from scratch", "trust.yml")
    run("dns from scratch", "dns.yml")
    run("services from scratch", "services.yml")
    export_extra(lab, False)
    run("services (a host goes)", "services.yml")
    return runs, operate_events(lab, mark)


def test_day2_steps_pass_as_operate_with_no_request_denied(day2):
    runs, events = day2
    assert set(runs.values()) == {0}
    denied = ["%s %s %s" % (e["cluster"], e["verb"], e.get("requestURI")) for e in events
              if (e.get("responseStatus") or {}).get("code") == 403]
    assert denied == []
    assert any(e["verb"] in WRITE_VERBS for e in events)  # the identity did the writing


def rule_used(rule, verb, namespace, events):
    """Whether some request used `verb` of the rule. A server-side apply that creates an object is
    a patch answered 201, authorized as both patch and create."""
    for event in events:
        ref = event.get("objectRef") or {}
        verbs = {event["verb"]} | ({"create"} if event["verb"] == "patch"
                                   and (event.get("responseStatus") or {}).get("code") == 201 else set())
        resource = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
        if (verb in verbs and ref.get("apiGroup", "") == rule.group and resource in rule.resources
                and (namespace is None or ref.get("namespace") == namespace or ref.get("resource") == "namespaces")
                and (not rule.names or ref.get("name") in rule.names)):
            return True
    return False


def test_every_permission_of_the_operate_identity_is_used(day2):
    _runs, events = day2
    unused = []
    for step, rule in permissions.step_rules(permissions.OPERATE_STEPS, options=OPTIONS):
        namespace = permissions.namespace_of(rule, "istio-system")
        unused += ["%s: %s %s %s" % (step, verb, "/".join(rule.resources), namespace or "cluster-wide")
                   for verb in rule.verbs if not rule_used(rule, verb, namespace, events)
                   and not {(resource, verb) for resource in rule.resources} <= UNSEEN]
    assert unused == [], "granted, but no step used it: remove it from plugins/module_utils/_access/permissions.py"


def as_operate(lab, operate, *args):
    """kubectl as the operate identity, in the first cluster."""
    kubectl = [str(ensure_binaries()["kubectl"]), "--kubeconfig", "%s/%s.kubeconfig" % (operate["directory"], lab.names[0])]
    return subprocess.run(kubectl + list(args), capture_output=True, text=True, check=False)


def can_i(lab, operate, *args):
    return as_operate(lab, operate, "auth", "can-i", *args).stdout.strip()


def test_operate_reads_no_secret_but_cacerts(lab, operate):
    assert can_i(lab, operate, "get", "secret/cacerts", "-n", "istio-system") == "yes"
    assert can_i(lab, operate, "get", "secret/sh.helm.release.v1.istiod.v1", "-n", "istio-system") == "no"
    assert can_i(lab, operate, "list", "secrets", "-n", "istio-system") == "no"
    assert can_i(lab, operate, "get", "secrets", "--all-namespaces") == "no"
    assert can_i(lab, operate, "create", "serviceentries.networking.istio.io", "-n", "bar") == "yes"


def test_the_roles_in_the_cluster_are_the_ones_written_once(lab, operate):
    subjects = [{"kind": "ServiceAccount", "name": "meshops-operate", "namespace": "meshops-system"}]
    for obj in permissions.rbac_objects(subjects, managed_labels(), options=OPTIONS):
        meta = obj["metadata"]
        live = lab.client(lab.names[0]).get(obj["kind"], meta["name"], meta.get("namespace"))
        assert live is not None, "%s %s" % (obj["kind"], meta)
        assert live.get("rules", live.get("subjects")) == obj.get("rules", obj.get("subjects"))


def test_control_plane_as_operate_fails_before_any_write_naming_the_permissions(lab, operate, ansible_playbook):
    writes_before = {name: lab.write_requests(name, "") for name in lab.names}
    mark = audit_mark(lab)
    run = ansible_playbook("control_plane.yml", extra_vars={"mesh_kubeconfig": operate["mesh_kubeconfig"]})
    assert run.rc != 0
    text = " ".join(run.stdout.split())
    assert OPERATE_USER in text and "step control_plane" in text
    assert "customresourcedefinitions.apiextensions.k8s.io (cluster-wide)" in text
    assert "clusterroles.rbac.authorization.k8s.io" in text
    assert [e for e in operate_events(lab, mark) if e["verb"] in WRITE_VERBS] == []
    assert {name: lab.write_requests(name, "") for name in lab.names} == writes_before


def test_verify_reports_a_missing_permission_in_the_row_of_its_cluster(lab, operate, ansible_playbook):
    first, second, *_rest = lab.names
    lab.client(second).delete("RoleBinding", "meshops-operate", "kube-system")
    run = ansible_playbook("verify.yml", extra_vars={"mesh_kubeconfig": operate["mesh_kubeconfig"]})
    restored = ansible_playbook("rbac.yml", extra_vars=dict(ISTIOD_DEBUG, mesh_rbac_kubeconfig_dir=str(operate["directory"])))
    assert restored.rc == 0, restored.stdout[-3000:]
    assert run.rc != 0
    rows = [" ".join(line.split()) for line in run.stdout.splitlines() if line.strip().startswith("FAIL ")]
    assert any(row.startswith("FAIL %s " % second) and "lacks" in row and "step verify" in row
               and "get configmaps coredns in namespace kube-system" in row for row in rows), rows
    assert not any(row.startswith("FAIL %s " % first) for row in rows), rows


def test_operate_may_not_delete_kube_system_nor_change_a_namespace_not_ours(lab, operate):
    """Real requests, sent with --dry-run=server: authorized and admitted by the API server as they
    would be, never stored. RBAC grants no delete of namespaces (refused before admission, where
    Kubernetes' own NamespaceLifecycle would refuse kube-system for anyone); the admission policy of
    rbac.yml limits create and patch to namespaces labelled ours."""
    ours, theirs = "meshops-rbac-ours", "meshops-rbac-theirs"
    admin = lab.client(lab.names[0])
    admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ours, "labels": managed_labels()}})
    admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": theirs}})
    try:
        def refused(*args):
            proc = as_operate(lab, operate, *args, "--dry-run=server")
            return " ".join(proc.stderr.split()) if proc.returncode != 0 else "allowed"
        for namespace in ("kube-system", theirs, ours):
            assert 'cannot delete resource "namespaces"' in refused("delete", "namespace", namespace), namespace
        policy = "ValidatingAdmissionPolicy 'meshops-operate-namespaces'"
        assert policy in refused("label", "namespace", "kube-system", "meshops-test=1")
        assert policy in refused("label", "namespace", theirs, "%s=meshops.multicluster" % MANAGED_BY_LABEL)
        assert policy in refused("create", "namespace", "meshops-rbac-unlabelled")
        assert refused("label", "namespace", ours, "meshops-test=1") == "allowed"
    finally:
        admin.delete("Namespace", ours)
        admin.delete("Namespace", theirs)
