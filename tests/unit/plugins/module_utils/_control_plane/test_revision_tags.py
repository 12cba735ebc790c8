"""Revision tags rendered as the istiod chart renders them, kept as one set of the collection's webhooks."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.install_model import install_model_problem
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_tags import (
    TagError, current_tags, keep_tags, tag_webhook)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import resource_path
from tests.unit.fake_api import FakeApi, fake_client

SERVICE = {"name": "istiod-1-31-0", "namespace": "istio-system", "path": "/inject", "port": 443}


def injector(revision="1-31-0", service=None):
    """The injector webhook of a revision as the istiod chart makes it (istiod has patched its caBundle)."""
    name = "istio-sidecar-injector-%s" % revision
    client_config = {"service": dict(service or SERVICE, name="istiod-%s" % revision), "caBundle": "Q0E="}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name, "labels": {"istio.io/rev": revision}},
            "webhooks": [{"name": "rev.namespace.sidecar-injector.istio.io", "clientConfig": client_config,
                          "reinvocationPolicy": "Never"}]}


def stored(*objects):
    return {resource_path(o["kind"], None, o["metadata"]["name"]): o for o in objects}


def test_a_tag_webhook_is_the_charts_with_the_revisions_service_and_no_ca_bundle():
    webhook = tag_webhook("stable", "1-31-0", injector(), "istio-system")
    assert webhook["metadata"] == {"name": "istio-revision-tag-stable", "labels": {
        "multicluster.meshops.io/component": "revision-tags", "istio.io/tag": "stable", "istio.io/rev": "1-31-0"}}
    assert [w["name"] for w in webhook["webhooks"]] == ["rev.namespace.sidecar-injector.istio.io",
                                                        "rev.object.sidecar-injector.istio.io"]
    first = webhook["webhooks"][0]
    assert first["clientConfig"] == {"service": SERVICE}
    assert first["namespaceSelector"]["matchExpressions"] == [
        {"key": "istio.io/rev", "operator": "In", "values": ["stable"]},
        {"key": "istio-injection", "operator": "DoesNotExist"}]
    assert first["failurePolicy"] == "Fail" and first["sideEffects"] == "None"


def test_the_default_tag_also_serves_istio_injection_enabled():
    webhook = tag_webhook("default", "1-31-0", injector(), "istio-system")
    names = [w["name"] for w in webhook["webhooks"]]
    assert names == ["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io",
                     "namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"]
    assert webhook["webhooks"][2]["namespaceSelector"]["matchExpressions"] == [
        {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]


def test_outside_the_istio_system_namespace_the_name_carries_the_namespace():
    assert tag_webhook("canary", "x", injector("x"), "mesh")["metadata"]["name"] == "istio-revision-tag-canary-mesh"


JSON = st.recursive(st.none() | st.booleans() | st.text(max_size=5) | st.integers(),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3))


@given(JSON | st.fixed_dictionaries({"clientConfig": st.fixed_dictionaries({"service": JSON, "caBundle": JSON})}))
def test_any_injector_renders_a_tag_or_fails_naming_the_revision(live):
    try:
        webhook = tag_webhook("stable", "1-31-0", {"metadata": {"name": "inj"}, "webhooks": [live]}, "istio-system")
    except TagError as exc:
        assert "revision 1-31-0" in str(exc)
    else:
        assert "caBundle" not in webhook["webhooks"][0]["clientConfig"]


def test_tags_are_created_then_left_alone_then_moved_and_pruned():
    api = FakeApi(stored(injector("1-31-0"), injector("1-32-0")))
    first = keep_tags(fake_client(api), {"default": "1-31-0", "stable": "1-31-0", "canary": "1-31-0"}, "istio-system")
    assert first["changed"] and len(first["created"]) == 3 and first["tags_before"] == {}
    writes = len(api.writes())
    again = keep_tags(fake_client(api), {"default": "1-31-0", "stable": "1-31-0", "canary": "1-31-0"}, "istio-system")
    assert not again["changed"] and again["unchanged"] == 3 and len(api.writes()) == writes
    assert again["tags_before"]["stable"] == {"revision": "1-31-0", "ours": True}
    moved = keep_tags(fake_client(api), {"default": "1-31-0", "stable": "1-32-0"}, "istio-system", diff=True)
    assert moved["updated"] == ["MutatingWebhookConfiguration istio-revision-tag-stable"]
    assert moved["deleted"] == ["MutatingWebhookConfiguration istio-revision-tag-canary"]
    assert "diff" in moved


def test_check_mode_writes_nothing_and_no_tags_only_reads():
    api = FakeApi(stored(injector()))
    result = keep_tags(fake_client(api, check_mode=True), {"default": "1-31-0"}, "istio-system")
    assert result["changed"] and api.writes() == []
    assert keep_tags(fake_client(api), None, "istio-system")["changed"] is False and api.writes() == []


def test_a_tag_webhook_that_is_not_ours_is_not_touched():
    theirs = tag_webhook("default", "1-30-0", injector("1-30-0"), "istio-system")
    theirs["metadata"]["labels"].pop("multicluster.meshops.io/component")
    api = FakeApi(stored(injector(), theirs))
    with pytest.raises(MeshError, match="istio-revision-tag-default already exist.*not ours"):
        keep_tags(fake_client(api), {"default": "1-31-0"}, "istio-system")
    assert api.writes() == []
    assert current_tags([theirs]) == {"default": {"revision": "1-30-0", "ours": False}}


def test_a_revision_without_injector_fails_before_any_write():
    api = FakeApi()
    with pytest.raises(TagError, match="revision 1-31-0 has no injector webhook .*istio-sidecar-injector-1-31-0"):
        keep_tags(fake_client(api), {"default": "1-31-0"}, "istio-system")
    assert api.writes() == []


@pytest.mark.parametrize("tags, expected", [
    ({"Stable": "1-31-0"}, "tag 'Stable'"),
    ({"stable": "1.31.0"}, "tags['stable']='1.31.0'"),
])
def test_bad_tags_are_refused(tags, expected):
    with pytest.raises(TagError) as exc:
        keep_tags(fake_client(FakeApi()), tags, "istio-system")
    assert expected in str(exc.value)


def test_the_guard_lets_a_fresh_or_steady_cluster_through():
    assert install_model_problem("1-31-0", {"version": None}, {}) is None
    assert install_model_problem("1-31-0", {"version": None}, {"default": {"revision": "1-31-0", "ours": True}}) is None


def test_the_guard_stops_the_in_place_model_and_another_default_revision():
    legacy = install_model_problem("1-31-0", {"version": "1.30.2"}, {}, cluster="east")
    assert legacy.startswith("east runs Istio in place (Helm release istiod, chart 1.30.2") and "playbooks/upgrade.yml" in legacy
    other = install_model_problem("1-31-0", {"version": None}, {"default": {"revision": "1-30-2", "ours": False}})
    assert "runs revision 1-30-2" in other and "mesh_istio_revision=1-31-0" in other and "playbooks/upgrade.yml" in other
