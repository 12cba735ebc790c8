"""A cluster's revisions read from its objects (a real KubeClient over FakeApi), the parsers of what
tenants and other tools write (property-based: a bad value degrades only its object), the version
window, and the probes' verdicts on the API server's answers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane import revisions as rv
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError, resource_path
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels
from tests.unit.fake_api import FakeApi, fake_client

NS = "istio-system"
READY = {"replicas": 1, "availableReplicas": 1, "updatedReplicas": 1,
         "conditions": [{"type": "Available", "status": "True"}]}


def obj(kind, name, namespace=None, labels=None, annotations=None, **fields):
    meta = {"name": name, "labels": labels or {}, "annotations": annotations or {}}
    if namespace:
        meta["namespace"] = namespace
    return dict({"kind": kind, "metadata": meta}, **fields)


def istiod(revision=None, version="1.31.0", status=None):
    status = READY if status is None else status
    name = "istiod-%s" % revision if revision else "istiod"
    return obj("Deployment", name, NS, {"app": "istiod", "istio.io/rev": revision or "default",
                                        "helm.sh/chart": "istiod-%s" % version, "app.kubernetes.io/version": version,
                                        "app.kubernetes.io/instance": name},
               spec={"replicas": 1}, status=status)


def webhook_config(kind, name, services, labels=None):
    return obj(kind, name, labels=labels, webhooks=[
        {"name": webhook, "clientConfig": {"service": {"namespace": namespace, "name": service}}}
        for webhook, namespace, service in services])


def tag(name, revision, ours=True):
    labels = dict(managed_labels() if ours else {}, **{"istio.io/tag": name, "istio.io/rev": revision})
    return webhook_config("MutatingWebhookConfiguration", "istio-revision-tag-%s" % name,
                          [("rev.object.sidecar-injector.istio.io", NS, "istiod-%s" % revision)], labels)


def pod(name, namespace, revision=None, status=None, phase="Running"):
    annotations = {}
    if status is not None:
        annotations["sidecar.istio.io/status"] = status
    elif revision:
        annotations["sidecar.istio.io/status"] = json.dumps({"containers": ["istio-proxy"], "revision": revision})
    return obj("Pod", name, namespace, annotations=annotations, status={"phase": phase})


def gateway(revision=None, name="istio-eastwestgateway"):
    labels = {"istio.io/rev": revision} if revision else {}
    return obj("Deployment", name, NS, {"app": "istio-eastwestgateway"},
               spec={"replicas": 1, "template": {"metadata": {"labels": labels}}}, status=READY)


def stored(*objects):
    return {resource_path(o["kind"], (o["metadata"]).get("namespace"), o["metadata"]["name"]): o for o in objects}


def two_revisions_mid_upgrade():
    """1-30-0 and 1-31-0 side by side; tags moved to 1-31-0 but the old default validator and a
    namespace still point at 1-30-0, a tenant pod with a broken annotation."""
    return stored(
        istiod("1-30-0", "1.30.2"), istiod("1-31-0", "1.31.0"), gateway("stable"),
        gateway("1-31-0", "istio-eastwestgateway-1-31-0"),
        obj("Service", "istiod-1-31-0", NS), obj("Service", "istio-eastwestgateway", NS),
        tag("default", "1-31-0"), tag("stable", "1-31-0"), tag("legacy", "1-30-0", ours=False),
        webhook_config("MutatingWebhookConfiguration", "istio-sidecar-injector-1-31-0",
                       [("rev.object.sidecar-injector.istio.io", NS, "istiod-1-31-0")]),
        webhook_config("ValidatingWebhookConfiguration", "istiod-default-validator",
                       [("validation.istio.io", NS, "istiod-1-30-0")]),
        webhook_config("ValidatingWebhookConfiguration", "other-validator", [("check.example.com", "tools", "checker")]),
        obj("Service", "checker", "tools"),
        obj("Namespace", "shop", labels={"istio.io/rev": "1-30-0"}),
        obj("Namespace", "bar", labels={"istio-injection": "enabled", "istio.io/rev": "1-30-0"}),
        obj("Namespace", "off", labels={"istio-injection": "disabled"}),
        obj("Namespace", "broken", labels={"istio.io/rev": ""}),
        pod("a", "shop", "1-30-0"), pod("b", "bar", "1-31-0"), pod("c", "bar", "1-31-0"),
        pod("done", "bar", "1-30-0", phase="Succeeded"), pod("bad", "bar", status="{not json"), pod("plain", "bar"))


def test_read_revisions_reads_every_kind_once_in_the_agreed_shape():
    api = FakeApi(two_revisions_mid_upgrade())
    warnings = []
    result = rv.read_revisions(fake_client(api, check_mode=True), NS, "istio-eastwestgateway", warnings)
    assert result == {
        "revisions": {
            "1-30-0": {"release": "istiod-1-30-0", "version": "1.30.2", "ready": True, "service": False,
                       "in_use_by": ["tag legacy", "namespace shop", "1 pods"]},
            "1-31-0": {"release": "istiod-1-31-0", "version": "1.31.0", "ready": True, "service": True,
                       "in_use_by": ["tag default", "tag stable", "namespace bar (tag default)", "2 pods",
                                     "gateway istio-eastwestgateway"]}},
        "tags": {"default": {"revision": "1-31-0", "ours": True}, "stable": {"revision": "1-31-0", "ours": True},
                 "legacy": {"revision": "1-30-0", "ours": False}},
        "default_revision": "1-31-0",
        "gateway": {"name": "istio-eastwestgateway", "revision": "stable", "ready": True},
        "gateway_canaries": [{"name": "istio-eastwestgateway-1-31-0", "revision": "1-31-0", "ready": True}],
        "namespaces": {"shop": "1-30-0", "bar": "default"},
        "pods": {"1-30-0": 1, "1-31-0": 2},
        "dangling_webhooks": [{"kind": "MutatingWebhookConfiguration", "name": "istio-revision-tag-legacy",
                               "webhook": "rev.object.sidecar-injector.istio.io", "service": "istio-system/istiod-1-30-0"},
                              {"kind": "ValidatingWebhookConfiguration", "name": "istiod-default-validator",
                               "webhook": "validation.istio.io", "service": "istio-system/istiod-1-30-0"}],
    }
    assert warnings == [
        "Namespace broken: label istio.io/rev is not a revision name: left out of the namespaces",
        "Pod bar/bad: annotation sidecar.istio.io/status is not JSON with a revision: not counted"]
    assert api.writes() == []


def test_the_in_place_install_is_the_default_revision_served_by_the_legacy_injector():
    api = FakeApi(stored(istiod(), gateway(), obj("Service", "istiod", NS),
                         webhook_config("MutatingWebhookConfiguration", "istio-sidecar-injector",
                                        [("rev.object.sidecar-injector.istio.io", NS, "istiod")]),
                         pod("gw", NS, "default")))
    result = rv.read_revisions(fake_client(api), NS, "istio-eastwestgateway")
    assert result["default_revision"] == "default" and result["tags"] == {}
    assert result["revisions"] == {"default": {"release": "istiod", "version": "1.31.0", "ready": True, "service": True,
                                               "in_use_by": ["1 pods", "gateway istio-eastwestgateway"]}}
    assert result["gateway"] == {"name": "istio-eastwestgateway", "revision": "default", "ready": True}


def test_without_a_default_tag_or_legacy_injector_no_revision_is_the_default_and_no_gateway_is_none():
    result = rv.read_revisions(fake_client(FakeApi(stored(istiod("canary")))), NS, "istio-eastwestgateway")
    assert result["default_revision"] is None
    assert result["gateway"] == {"name": "istio-eastwestgateway", "revision": None, "ready": False}
    assert result["revisions"]["canary"]["in_use_by"] == [] and result["revisions"]["canary"]["service"] is False


def test_an_istiod_scaled_to_zero_is_not_ready():
    assert not rv.serving(istiod(status={"replicas": 0, "conditions": [{"type": "Available", "status": "True"}]}))
    assert rv.serving(istiod())


def test_a_webhook_naming_a_service_in_another_namespace_is_asked_for_once():
    configs = {"MutatingWebhookConfiguration": [webhook_config("MutatingWebhookConfiguration", "m", [
        ("a", "tools", "gone"), ("b", "tools", "gone"), ("c", NS, "istiod")])]}
    asked = []

    class Client:
        def get(self, kind, name, namespace):
            asked.append((kind, namespace, name))

    exists = rv._service_lookup(Client(), NS, [obj("Service", "istiod", NS)])
    assert [d["webhook"] for d in rv.dangling_webhooks(configs, exists, [])] == ["a", "b"]
    assert asked == [("Service", "tools", "gone")]


# --- parsers of outside input: anything a tenant writes degrades only its object ---------------------

LABEL_TEXT = st.text(st.characters(codec="utf-8"), max_size=70)


@given(st.one_of(LABEL_TEXT, st.from_regex(r'\{"revision": ?"[a-z0-9-]{0,10}"\}', fullmatch=True)))
def test_a_pod_status_annotation_is_a_revision_or_the_pod_is_malformed(annotation):
    try:
        revision = rv.pod_revision(pod("p", "t", status=annotation))
    except MalformedObject as exc:
        # The problem is said in our words: the tenant's text is never echoed.
        assert exc.obj == "Pod t/p" and exc.problem == "annotation %s is not JSON with a revision" % rv.SIDECAR_STATUS
        return
    assert isinstance(revision, str) and json.loads(annotation)["revision"] == revision


@given(st.dictionaries(st.sampled_from(["istio.io/rev", "istio-injection", "other"]), LABEL_TEXT, max_size=3))
def test_a_namespace_pins_a_label_value_or_nothing_or_is_malformed(labels):
    try:
        pin = rv.namespace_pin(obj("Namespace", "t", labels=labels))
    except MalformedObject as exc:
        assert exc.obj == "Namespace t" and "istio-injection" not in labels
        return
    if "istio-injection" in labels:
        assert pin == ("default" if labels["istio-injection"] == "enabled" else None)
    else:
        assert pin == labels.get("istio.io/rev")


@given(st.one_of(st.none(), st.lists(st.integers()), st.text(max_size=5)))
def test_labels_that_are_not_a_map_make_the_object_malformed(labels):
    namespace = {"kind": "Namespace", "metadata": {"name": "t", "labels": labels}}
    if isinstance(labels, dict) or not labels:
        assert rv.namespace_pin(namespace) is None
    else:
        with pytest.raises(MalformedObject):
            rv.namespace_pin(namespace)


@given(st.dictionaries(st.sampled_from(["istio.io/tag", "istio.io/rev", "app.kubernetes.io/managed-by"]),
                       LABEL_TEXT, max_size=3))
def test_a_tag_webhook_is_a_tag_or_not_one_or_malformed(labels):
    try:
        found = rv.tag_of(obj("MutatingWebhookConfiguration", "m", labels=labels))
    except MalformedObject:
        return
    assert found is None if "istio.io/tag" not in labels else found[:2] == (labels["istio.io/tag"], labels.get("istio.io/rev"))


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                       max_leaves=8)


@given(st.one_of(JSONISH, st.lists(st.fixed_dictionaries(
    {"name": st.text(max_size=5), "clientConfig": st.fixed_dictionaries(
        {"service": st.one_of(st.none(), st.fixed_dictionaries({"namespace": st.text(max_size=5),
                                                               "name": st.text(max_size=5)}))})}), max_size=3)))
def test_webhooks_are_services_or_the_configuration_is_malformed(webhooks):
    config = {"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "v"}, "webhooks": webhooks}
    try:
        found = rv.webhook_services(config)
    except MalformedObject as exc:
        assert exc.obj == "ValidatingWebhookConfiguration v"
        return
    assert all(len(entry) == 3 for entry in found)


@given(LABEL_TEXT, st.one_of(st.none(), LABEL_TEXT))
def test_a_chart_label_gives_a_version_or_none(chart, version):
    labels = {"helm.sh/chart": chart, "app.kubernetes.io/instance": "istiod"}
    if version is not None:
        labels["app.kubernetes.io/version"] = version
    found = rv.chart_version({"metadata": {"labels": labels}})
    assert found is None or isinstance(found, str)


# --- version window ---------------------------------------------------------------------------------

@pytest.mark.parametrize("version, minor", [("1.31.0", (1, 31)), ("1.31-dev", (1, 31)),
                                            ("1.31-alpha.20260423", (1, 31)), ("v1.30.2", (1, 30))])
def test_versions_are_read_to_their_minor(version, minor):
    assert rv.parse_minor(version) == minor


@given(st.one_of(LABEL_TEXT, st.integers(), st.none()))
def test_a_version_is_a_minor_or_a_value_error(version):
    try:
        major, minor = rv.parse_minor(version)
    except ValueError as exc:
        assert "is not a version" in str(exc)
        return
    assert str(version).strip().lstrip("v").startswith("%d.%d" % (major, minor))


def test_the_fleet_stays_within_one_minor_of_its_highest():
    assert rv.version_window({"east": "1.31.0", "west": ["1.30.2", "1.31.0"]}) == {
        "ok": True, "min": "1.30", "max": "1.31", "outside": [], "unparsed": []}
    assert rv.version_window({"east": "1.31.0", "west": "1.29.4", "north": "1.31-dev", "south": "latest"}) == {
        "ok": False, "min": "1.29", "max": "1.31", "outside": ["west"],
        "unparsed": ["south: 'latest' is not a version like 1.31.0 or 1.31-dev"]}
    assert rv.version_window({}) == {"ok": True, "min": None, "max": None, "outside": [], "unparsed": []}
    assert rv.version_window({"a": "2.0.0", "b": "1.31.0"})["outside"] == ["b"]


# --- probes -----------------------------------------------------------------------------------------

DENIED = '400 admission webhook "%s" denied the request: configuration is invalid: SIMPLE TLS requires a server certificate'
REFUSED = ('500 Internal error occurred: failed calling webhook "rev.validation.istio.io": failed to call webhook: '
           'dial tcp 10.96.0.12:443: connect: connection refused')


class ProbeClient:
    """Answers dry-run creates: the injected Pod (or an error) and, for Gateways, one error per try."""

    def __init__(self, pod_answer, gateway_errors, validating=()):
        self.pod_answer, self.gateway_errors, self.validating = pod_answer, list(gateway_errors), list(validating)
        self.created = []

    def list(self, kind):
        assert kind == "ValidatingWebhookConfiguration"
        return self.validating

    def create(self, obj, dry_run=False):
        assert dry_run
        self.created.append(obj)
        answer = self.pod_answer if obj["kind"] == "Pod" else (self.gateway_errors.pop(0) if self.gateway_errors else None)
        if isinstance(answer, Exception):
            raise answer
        return answer


def injected(revision):
    return {"metadata": {"annotations": {"sidecar.istio.io/status": json.dumps({"revision": revision})}}}


VALIDATORS = [webhook_config("ValidatingWebhookConfiguration", "istio-validator-canary-istio-system",
                             [("rev.validation.istio.io", NS, "istiod-canary")]),
              webhook_config("ValidatingWebhookConfiguration", "istiod-default-validator",
                             [("validation.istio.io", NS, "istiod")])]


def test_a_revision_whose_webhooks_answer_passes_both_probes_after_another_revisions_denial():
    client = ProbeClient(injected("canary"), [KubeError(DENIED % "validation.istio.io", 400),
                                              KubeError(DENIED % "rev.validation.istio.io", 400)], VALIDATORS)
    probes = rv.probe_revisions(client, ["canary"], NS)
    assert probes == {"canary": {"injection": {"ok": True, "message": "injected by revision canary"},
                                 "validation": {"ok": True, "message": DENIED % "rev.validation.istio.io"}}}
    pod_sent, gateway_sent = client.created[0], client.created[1]
    assert pod_sent["metadata"]["labels"] == {"istio.io/rev": "canary"} and pod_sent["metadata"]["namespace"] == NS
    assert gateway_sent["metadata"]["labels"] == {"istio.io/rev": "canary"} and len(client.created) == 3


def test_the_default_validator_counts_for_the_revision_it_calls():
    client = ProbeClient(injected("default"), [KubeError(DENIED % "validation.istio.io", 400)], VALIDATORS)
    assert rv.probe_revisions(client, ["default"], NS)["default"]["validation"]["ok"] is True


def test_a_webhook_the_api_server_cannot_call_fails_both_probes_in_its_words():
    refused_injection = REFUSED.replace("rev.validation.istio.io", "rev.object.sidecar-injector.istio.io")
    client = ProbeClient(KubeError(refused_injection), [KubeError(REFUSED, 500)], VALIDATORS)
    probes = rv.probe_revisions(client, ["canary"], NS)["canary"]
    assert probes["injection"] == {"ok": False, "message": refused_injection}
    assert probes["validation"] == {"ok": False, "message": REFUSED}


def test_probes_say_what_went_wrong_when_nothing_failed_loudly():
    client = ProbeClient({"metadata": {}}, [KubeError(DENIED % "validation.istio.io", 400)] * 20, VALIDATORS)
    probes = rv.probe_revisions(client, ["canary"], NS)["canary"]
    assert not probes["injection"]["ok"] and "without injecting it" in probes["injection"]["message"]
    assert not probes["validation"]["ok"] and probes["validation"]["message"].startswith(
        "in 10 tries only webhooks of other revisions answered")
    assert rv.injection_outcome("canary", injected("1-30-0")) == {
        "ok": False, "message": "the probe pod was injected by revision 1-30-0, not canary"}
    assert not rv.validation_outcome("canary", None, {"rev.validation.istio.io"})["ok"]
    assert rv.probe_revisions(ProbeClient(injected("x"), [], []), ["x"], NS)["x"]["validation"] == {
        "ok": False, "message": "no validating webhook calls Service istio-system/istiod-x"}
    assert rv.probe_revisions(ProbeClient(None, []), [], NS) == {}


def test_a_forbidden_probe_is_not_a_verdict_on_the_revision():
    from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import Forbidden, Request
    refused = Forbidden(Request("POST", "/api/v1/namespaces/istio-system/pods", "Pod", NS, None), "no")
    with pytest.raises(Forbidden):
        rv.probe_revisions(ProbeClient(refused, [], VALIDATORS), ["canary"], NS)
