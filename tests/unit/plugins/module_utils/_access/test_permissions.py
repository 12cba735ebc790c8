"""The permissions of the steps: rules, the RBAC objects made of them, the check, the 403 message."""

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._access import permissions
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import (
    Forbidden, KubeError, Request, resource_request)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels
from tests.docs_permissions import PAGE, render

SA = [{"kind": "ServiceAccount", "name": "meshops-operate", "namespace": "meshops-system"}]
EVERYTHING = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]


def test_docs_permissions_md_is_up_to_date():
    assert PAGE.read_text() == render(), "docs/permissions.md is out of date: run python tests/docs_permissions.py"


def operate_rules(options=("replicate_namespaces",), namespace="istio-system"):
    objects = permissions.rbac_objects(SA, managed_labels(), mesh_namespace=namespace, options=options)
    return {(o["kind"], o["metadata"].get("namespace")): o for o in objects}


def test_operate_identity_reads_no_secret_but_cacerts():
    """cacerts, and cacerts-next where the trust step stages an intermediate while revocation is on."""
    secrets = [rule for obj in operate_rules().values() for rule in obj.get("rules", [])
               if "secrets" in rule["resources"]]
    assert secrets and all(set(rule["resourceNames"]) <= {"cacerts", "cacerts-next"} for rule in secrets)
    assert {verb for rule in secrets for verb in rule["verbs"]} == {"get", "create", "patch", "delete"}


def test_operate_roles_are_cluster_mesh_namespace_and_kube_system():
    objects = operate_rules(namespace="mesh-system")
    assert set(objects) == {("ClusterRole", None), ("ClusterRoleBinding", None), ("Role", "mesh-system"),
                            ("RoleBinding", "mesh-system"), ("Role", "kube-system"), ("RoleBinding", "kube-system"),
                            ("ValidatingAdmissionPolicy", None), ("ValidatingAdmissionPolicyBinding", None)}
    assert all(obj["metadata"]["labels"] == managed_labels() for obj in objects.values())
    assert objects[("RoleBinding", "mesh-system")]["subjects"] == SA


def test_namespaces_are_written_only_with_replicate():
    def namespace_verbs(options):
        return {verb for rule in operate_rules(options)[("ClusterRole", None)]["rules"]
                if rule["resources"] == ["namespaces"] and not rule.get("resourceNames") for verb in rule["verbs"]}
    assert namespace_verbs(()) == {"get", "list"}  # the trace reads the traced Service's namespace
    assert {"create", "patch"} <= namespace_verbs(("replicate_namespaces",))


def test_istiod_debug_grants_a_port_forward_to_istiods_pods_and_no_service_proxy():
    def mesh_rules(options):
        return operate_rules(options)[("Role", "istio-system")]["rules"]
    granted = [rule for rule in mesh_rules(("istiod_debug",)) if rule not in mesh_rules(())]
    assert sorted((rule["resources"][0], tuple(rule["verbs"])) for rule in granted) == [
        ("pods", ("list",)), ("pods/portforward", ("get", "create"))]
    rules = [rule for obj in operate_rules(tuple(permissions.OPTIONS)).values() for rule in obj.get("rules", [])]
    assert not [rule for rule in rules if "services/proxy" in rule["resources"]]


def test_the_operate_identity_may_delete_no_namespace():
    # It cannot list Secrets, so it never proves a namespace empty (namespace_contents).
    rules = [rule for obj in operate_rules().values() for rule in obj.get("rules", [])]
    assert not [rule for rule in rules if "namespaces" in rule["resources"] and "delete" in rule["verbs"]]


def test_namespace_writes_come_with_the_policy_that_limits_them_to_namespaces_labelled_ours():
    assert ("ValidatingAdmissionPolicy", None) not in operate_rules(options=())
    objects = operate_rules()
    policy, binding = objects[("ValidatingAdmissionPolicy", None)], objects[("ValidatingAdmissionPolicyBinding", None)]
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConstraints"]["resourceRules"] == [{
        "apiGroups": [""], "apiVersions": ["*"], "resources": ["namespaces"], "operations": ["CREATE", "UPDATE", "DELETE"]}]
    assert [c["expression"] for c in policy["spec"]["matchConditions"]] == [
        'request.userInfo.username == "system:serviceaccount:meshops-system:meshops-operate"']
    labelled = '"app.kubernetes.io/managed-by" in %s.metadata.labels && %s.metadata.labels["app.kubernetes.io/managed-by"]' \
        ' == "meshops.multicluster"'
    assert policy["spec"]["validations"][0]["expression"] == "request.operation == 'CREATE' ? (%s) : (%s)" % (
        "has(object.metadata.labels) && " + labelled % ("object", "object"),
        "has(oldObject.metadata.labels) && " + labelled % ("oldObject", "oldObject"))


def test_the_policy_matches_every_kind_of_subject():
    subjects = SA + [{"kind": "User", "name": "ann"}, {"kind": "Group", "name": 'ops"x'}]
    objects = permissions.rbac_objects(subjects, managed_labels(), options=("replicate_namespaces",))
    policy = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"][0]
    assert policy["spec"]["matchConditions"][0]["expression"] == (
        'request.userInfo.username == "system:serviceaccount:meshops-system:meshops-operate" || '
        'request.userInfo.username == "ann" || (has(request.userInfo.groups) && "ops\\"x" in request.userInfo.groups)')


def test_the_control_plane_step_is_not_in_the_operate_identity():
    rules = [rule for obj in operate_rules().values() for rule in obj.get("rules", [])]
    assert not [rule for rule in rules if "customresourcedefinitions" in rule["resources"]]


def test_an_administrator_lacks_nothing():
    rules = permissions.step_rules(permissions.STEPS, options=list(permissions.OPTIONS))
    reviews = {ns: EVERYTHING for ns in permissions.review_namespaces(rules, "istio-system")}
    assert permissions.missing(rules, reviews, "istio-system") == []


def test_missing_names_verb_resource_name_namespace_and_step():
    rules = permissions.step_rules(["trust"])
    review = [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["cacerts"]},
              {"verbs": ["get", "create", "patch", "delete"], "apiGroups": [""], "resources": ["secrets"],
               "resourceNames": ["cacerts-next"]},
              {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]},
              {"verbs": ["get"], "apiGroups": [""], "resources": ["namespaces"]}]
    lacking = permissions.missing(rules, {"istio-system": review}, "istio-system")
    assert [permissions.describe(item) for item in lacking] == [
        "create secrets cacerts in namespace istio-system", "patch secrets cacerts in namespace istio-system",
        "delete secrets cacerts in namespace istio-system"]
    assert permissions.summary(lacking) == ["trust: create, patch, delete secrets cacerts in namespace istio-system"]


@pytest.mark.parametrize("method, kind, namespace, name, expected", [
    ("GET", "Secret", "istio-system", "cacerts", "get secrets cacerts in namespace istio-system (needed by step trust, "),
    ("GET", "ConfigMap", "istio-system", None, "list configmaps in namespace istio-system (needed by step "),
    ("DELETE", "Namespace", "ignored", "bar", "delete namespaces bar (cluster-wide) (needed by no step of the collection)"),
    ("PATCH", "ServiceEntry", "bar", "x", "patch serviceentries.networking.istio.io x in namespace bar (needed by step services)"),
    ("GET", "ServiceEntry", None, None, "list serviceentries.networking.istio.io (cluster-wide) (needed by step services, verify, upgrade, trace)"),
])
def test_a_forbidden_request_is_worded_from_the_object_it_addresses(method, kind, namespace, name, expected):
    request = resource_request(method, kind, namespace, name)
    assert permissions.forbidden_message(request, "forbidden").startswith("permission missing: " + expected)


def test_forbidden_message_names_the_step():
    message = permissions.worded(Forbidden(resource_request("PATCH", "ServiceEntry", "bar", "x"), "forbidden"))
    assert message.startswith("permission missing: patch serviceentries.networking.istio.io x in namespace bar "
                              "(needed by step services) - the API server said: forbidden.")
    assert "playbooks/rbac.yml" in message


def test_a_forbidden_request_to_no_kind_of_the_collection_is_worded_by_its_path():
    forbidden = Forbidden(Request("GET", "/apis", None, None, None), "forbidden")
    assert str(forbidden) == "GET /apis: 403 forbidden"
    assert permissions.worded(forbidden).startswith("permission missing: GET /apis (needed by no step of the collection)")


def test_other_errors_keep_their_message():
    assert permissions.worded(KubeError("GET /api/v1: 500 boom", status=500)) == "GET /api/v1: 500 boom"


def test_lacking_permissions_name_the_fix_and_return_what_is_missing():
    lacking = [{"step": "trust", "verb": "create", "resource": "secrets", "namespace": "istio-system", "name": "cacerts"}]
    error = permissions.lacking_error("cluster1", "ann", lacking)
    fix = "grant them with playbooks/rbac.yml, or run the step with an identity that has them"
    assert str(error) == ("cluster1: ann lacks 1 permission(s) that step trust need(s), checked before any write: trust: "
                          "create secrets cacerts in namespace istio-system. Fix: %s (docs/permissions.md)" % fix)
    assert error.result() == {"missing": lacking, "user": "ann", "fix": fix}


def test_unknown_step_or_option_is_refused():
    with pytest.raises(ValueError, match="'deploy' is not a step"):
        permissions.step_rules(["deploy"])
    with pytest.raises(ValueError, match="'all' is not an option"):
        permissions.step_rules(["dns"], options=["all"])
