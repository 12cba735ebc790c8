import base64
import gzip
import json

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.helm_release import compare_release, deployed_releases, stamped_release


def helm_secret(name, revision, status, version, values):
    release = {"name": name, "version": revision, "info": {"status": status},
               "chart": {"metadata": {"name": name, "version": version, "appVersion": version}}, "config": values}
    payload = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return {"metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, revision),
                         "labels": {"owner": "helm", "name": name, "status": status}},
            "data": {"release": base64.b64encode(payload).decode()}}


def test_the_deployed_revision_is_read():
    secrets = [helm_secret("istiod", 1, "superseded", "1.28.0", {"a": 1}),
               helm_secret("istiod", 2, "deployed", "1.29.0", {"global": {"meshID": "mesh1"}}),
               {"metadata": {"name": "other", "labels": {}}, "data": {}}]
    releases = deployed_releases(secrets)
    assert releases == {"istiod": {"chart": "istiod", "version": "1.29.0", "app_version": "1.29.0", "revision": 2,
                                   "values": {"global": {"meshID": "mesh1"}}}}


def test_a_release_is_up_to_date_only_with_the_same_chart_version_and_values():
    deployed = deployed_releases([helm_secret("istiod", 3, "deployed", "1.29.0", {"global": {"meshID": "mesh1"}})])
    istiod = deployed["istiod"]
    assert compare_release(istiod, "1.29.0", {"global": {"meshID": "mesh1"}}) == {
        "up_to_date": True, "chart": "istiod", "version": "1.29.0", "revision": 3, "differences": []}
    assert compare_release(istiod, "1.30.0", {"global": {"meshID": "mesh2"}})["differences"] == [
        "chart version 1.29.0, expected 1.30.0", "values differ"]
    assert compare_release(None, "1.29.0", {}) == {
        "up_to_date": False, "chart": None, "version": None, "revision": 0, "differences": ["not installed"]}


def test_stamped_release_reads_the_chart_labels_of_an_object():
    deployment = {"metadata": {"labels": {"helm.sh/chart": "gateway-1.31-dev", "app.kubernetes.io/version": "1.31-dev"},
                               "annotations": {"meta.helm.sh/release-name": "istio-eastwestgateway"}}}
    expected = {"release": "istio-eastwestgateway", "chart": "gateway", "version": "1.31-dev",
                "app_version": "1.31-dev", "values": {"a": 1}}
    assert stamped_release(deployment, {"a": 1}) == expected
    assert stamped_release({"metadata": {"labels": {"app": "x"}}}) is None
    assert stamped_release(None) is None
