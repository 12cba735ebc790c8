"""The filter that names the clusters of hosts that did not run in the play."""

from ansible_collections.meshops.multicluster.plugins.filter.cluster_names import cluster_names


def test_cluster_names_filter_falls_back_to_the_host_name():
    hostvars = {"east": {"mesh_cluster_name": "eu-east"}, "west": {}}
    assert cluster_names(["east", "west"], hostvars) == ["eu-east", "west"]
