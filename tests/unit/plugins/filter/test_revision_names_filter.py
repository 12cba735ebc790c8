"""The filter that gives the roles a revision's object names."""

from ansible_collections.meshops.multicluster.plugins.filter.revision_names import revision_names


def test_revision_names_follow_the_revision():
    assert revision_names("1-31-0") == {"istiod": "istiod-1-31-0", "mesh_config": "istio-1-31-0",
                                        "values_configmap": "values-1-31-0"}


def test_revision_names_of_an_istiod_without_revision_are_the_legacy_ones():
    assert revision_names("default") == {"istiod": "istiod", "mesh_config": "istio", "values_configmap": "values"}
