"""RBAC rules as a SelfSubjectRulesReview reports them."""

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.rules import allowed


def test_a_rule_for_other_names_does_not_allow():
    assert not allowed([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                         "resourceNames": ["other"]}], "", "secrets", "get", "cacerts")
    assert not allowed([{"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"],
                         "resourceNames": ["cacerts"]}], "", "secrets", "list")
