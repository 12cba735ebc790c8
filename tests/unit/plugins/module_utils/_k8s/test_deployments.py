from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployment_not_ready


def test_deployment_readiness():
    ready = {"spec": {"replicas": 2}, "status": {"availableReplicas": 2, "updatedReplicas": 2,
                                                 "conditions": [{"type": "Available", "status": "True"}]}}
    assert deployment_not_ready(ready) is None
    assert deployment_not_ready(None) == "does not exist"
    half = {"spec": {"replicas": 2}, "status": {"availableReplicas": 1, "updatedReplicas": 2,
                                                "conditions": [{"type": "Available", "status": "True"}]}}
    assert deployment_not_ready(half) == "1 of 2 replicas available"
