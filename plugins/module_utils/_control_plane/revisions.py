# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cluster's Istio revisions as its objects show them: which istiod revisions run, where the tags
point, what uses each revision (tags, namespaces, pods, the gateway), which webhooks point at a
Service that does not exist (istio#28880, #43227), and the probes that ask the API server to call a
revision's webhooks (server-side dry run: nothing is persisted).

Pure functions parse the objects; `read_revisions` lists them (one list per kind) and
`probe_revisions` makes the dry-run requests. A malformed object a tenant controls (a pod's status
annotation, a namespace's label) degrades only itself: it is left out with a warning.
"""

from __future__ import annotations

import json
import re

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.helm_release import stamped_release
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    DEFAULT_TAG, LEGACY_REVISION, REVISION_LABEL, TAG_LABEL, injector_webhook_name, istiod_name)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployment_not_ready
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import is_ours

SIDECAR_STATUS = "sidecar.istio.io/status"
INJECTION_LABEL = "istio-injection"
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
# The webhooks that validate Istio config: each revision's own, and the base chart's default validator.
VALIDATION_WEBHOOKS = ("rev.validation.istio.io", "validation.istio.io")
# A Kubernetes label value (what a namespace or a Deployment may pin): 63 characters at most.
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?\Z")
PROBE_NAME_PREFIX = "meshops-revision-probe-"
# 'admission webhook "rev.validation.istio.io" denied the request: ...' (the API server's words)
_DENIED_BY = re.compile(r'admission webhook "([^"]+)" denied the request')
# Tries of the validation probe while another revision's webhook answers first (it does about half
# the time on the lab: 0.6 ** 10 leaves well under 1% of healthy revisions unproven).
VALIDATION_ATTEMPTS = 10


def _name(obj):
    meta = (obj or {}).get("metadata") or {}
    return "%s/%s" % (meta["namespace"], meta.get("name")) if meta.get("namespace") else str(meta.get("name"))


def _labels(obj):
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict):
        raise TypeError("metadata.labels is not a map")
    return labels


# --- parsers of outside input ----------------------------------------------------------------------

def status_revision(value):
    """The revision of a sidecar.istio.io/status annotation (JSON with "revision"); ValueError when
    it is not a JSON object with a non-empty string "revision"."""
    status = json.loads(value)
    if not isinstance(status, dict):
        raise ValueError("%s is not a JSON object" % SIDECAR_STATUS)
    revision = status.get("revision")
    if not isinstance(revision, str) or not revision or not _LABEL_VALUE.match(revision):
        raise ValueError("%s has no revision name" % SIDECAR_STATUS)
    return revision


def pod_revision(pod):
    """The revision that injected a running pod, None for a pod not injected (or finished);
    MalformedObject naming the pod when its status annotation cannot be read."""
    if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
        return None
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict) or SIDECAR_STATUS not in annotations:
        return None
    with reading("Pod %s" % _name(pod), "annotation %s is not JSON with a revision" % SIDECAR_STATUS):
        return status_revision(annotations[SIDECAR_STATUS])


def label_revision(value, label=REVISION_LABEL):
    """A revision or tag name read from a label value; ValueError when it is empty or not a label value."""
    if not isinstance(value, str) or not value or not _LABEL_VALUE.match(value) or len(value) > 63:
        raise ValueError("label %s is not a revision name" % label)
    return value


def namespace_pin(namespace):
    """The revision or tag a namespace's pods are injected by: istio-injection=enabled -> the default
    tag (it takes precedence over istio.io/rev, as the injector's selectors do); istio.io/rev=<name>;
    None when neither asks for injection. MalformedObject naming the namespace for a bad label."""
    with reading("Namespace %s" % _name(namespace)):
        labels = _labels(namespace)
        if INJECTION_LABEL in labels:
            return DEFAULT_TAG if labels[INJECTION_LABEL] == "enabled" else None
        if REVISION_LABEL in labels:
            return label_revision(labels[REVISION_LABEL])
        return None


def deployment_revision(deployment, template=False):
    """istio.io/rev of a Deployment (of its pod template with template=True); the legacy revision
    without the label. MalformedObject naming the Deployment for a bad label."""
    with reading("Deployment %s" % _name(deployment)):
        obj = ((deployment.get("spec") or {}).get("template") or {}) if template else deployment
        labels = _labels(obj)
        return label_revision(labels[REVISION_LABEL]) if REVISION_LABEL in labels else LEGACY_REVISION


def webhook_services(config):
    """[(webhook name, namespace, service name)] of the webhooks of a webhook configuration that call
    a Service (not a URL). MalformedObject naming the configuration when its webhooks are not a list
    of objects."""
    with reading("%s %s" % (config.get("kind") or "webhook configuration", _name(config))):
        found = []
        for webhook in config.get("webhooks") or []:
            service = (webhook["clientConfig"] or {}).get("service")
            if service:
                found.append((str(webhook["name"]), service["namespace"], service["name"]))
        return found


def tag_of(config):
    """(tag, revision, ours) of a revision tag webhook configuration (label istio.io/tag); None for
    another configuration. MalformedObject naming it when the tag or revision label is bad."""
    with reading("MutatingWebhookConfiguration %s" % _name(config)):
        labels = _labels(config)
        if TAG_LABEL not in labels:
            return None
        revision = labels.get(REVISION_LABEL)
        return (label_revision(labels[TAG_LABEL], TAG_LABEL),
                None if revision is None else label_revision(revision), is_ours(config))


def chart_version(deployment):
    """The chart version stamped on a Deployment (helm.sh/chart), None without the label."""
    release = stamped_release(deployment)
    return release and release["version"]


def serving(deployment):
    """Whether a Deployment is Available, every replica updated, and at least one running (one scaled
    to 0 is Available but serves nothing)."""
    return deployment_not_ready(deployment) is None and ((deployment.get("status") or {}).get("availableReplicas") or 0) > 0


# --- pure assembly ---------------------------------------------------------------------------------

def readable(objects, parse, warnings, left_out):
    """(object, parse(object)) of each object whose content parse reads to a value (not None); a
    malformed one is skipped with the warning "<object>: <problem>: <left_out>"."""
    for obj in objects:
        try:
            value = parse(obj)
        except MalformedObject as exc:
            warnings.append("%s: %s" % (exc, left_out))
            continue
        if value is not None:
            yield obj, value


def read_tags(mutating_configs, warnings):
    """{tag: {revision, ours}} from the MutatingWebhookConfigurations labelled istio.io/tag."""
    return {tag: {"revision": revision, "ours": ours}
            for _config, (tag, revision, ours) in readable(mutating_configs, tag_of, warnings, "left out of the tags")}


def default_revision(tags, mutating_configs, istio_namespace):
    """The revision the default tag points at; without a default tag, the legacy revision when the
    legacy injector (istio-sidecar-injector) exists; None otherwise."""
    if DEFAULT_TAG in tags:
        return tags[DEFAULT_TAG]["revision"]
    legacy = injector_webhook_name(LEGACY_REVISION, istio_namespace)
    return LEGACY_REVISION if any(_name(c) == legacy for c in mutating_configs) else None


def resolve(name, tags):
    """The revision a pinned name means: a tag's revision, else the name itself (a revision)."""
    return tags[name]["revision"] if name in tags else name


def count_pods(pods, warnings):
    """{revision: number of running pods it injected}."""
    counts = {}
    for _pod, revision in readable(pods, pod_revision, warnings, "not counted"):
        counts[revision] = counts.get(revision, 0) + 1
    return counts


def read_namespaces(namespaces, warnings):
    """{namespace: the revision or tag it pins} of the namespaces that ask for injection."""
    return {_name(namespace): pin
            for namespace, pin in readable(namespaces, namespace_pin, warnings, "left out of the namespaces")}


def dangling_webhooks(configs, services_exist, warnings):
    """[{kind, name, webhook, service: "<namespace>/<name>"}] of the webhooks whose Service does not
    exist. configs: {kind: [configuration]}; services_exist: (namespace, name) -> bool."""
    dangling = []
    for kind in WEBHOOK_KINDS:
        typed = [dict(config, kind=kind) for config in configs.get(kind) or []]
        for config, called in readable(typed, webhook_services, warnings, "its Services not checked"):
            for webhook, namespace, name in called:
                if not services_exist(namespace, name):
                    dangling.append({"kind": kind, "name": _name(config), "webhook": webhook,
                                     "service": "%s/%s" % (namespace, name)})
    return dangling


def in_use_by(revision, tags, namespaces, pods, gateway):
    """Why a revision may not be removed: ["tag stable", "namespace foo", "namespace bar (tag canary)",
    "3 pods", "gateway istio-eastwestgateway"]; [] when nothing uses it."""
    uses = ["tag %s" % tag for tag, target in sorted(tags.items()) if target["revision"] == revision]
    for namespace, pin in sorted(namespaces.items()):
        if resolve(pin, tags) == revision:
            uses.append("namespace %s" % namespace if pin == revision else "namespace %s (tag %s)" % (namespace, pin))
    if pods.get(revision):
        uses.append("%d pods" % pods[revision])
    if gateway.get("revision") is not None and resolve(gateway["revision"], tags) == revision:
        uses.append("gateway %s" % gateway["name"])
    return uses


def istiod_revisions(deployments, service_names, warnings):
    """{revision: {release, version, ready, service}} of the istiod Deployments."""
    revisions = {}
    for deployment, revision in readable(deployments, deployment_revision, warnings, "left out of the revisions"):
        name = istiod_name(revision)
        revisions[revision] = {"release": name, "version": chart_version(deployment), "ready": serving(deployment),
                               "service": name in service_names}
    return revisions


def gateway_state(deployment, name, warnings):
    """{name, revision, ready} of the gateway Deployment (revision None when it does not exist or
    its label cannot be read)."""
    if deployment is None:
        return {"name": name, "revision": None, "ready": False}
    try:
        revision = deployment_revision(deployment, template=True)
    except MalformedObject as exc:
        warnings.append(str(exc))
        revision = None
    return {"name": name, "revision": revision, "ready": serving(deployment)}


def gateway_canaries(deployments, name, warnings):
    """[{name, revision, ready}] of the canary gateways beside the gateway `name`: the other
    Deployments labelled app=<name> (the upgrade's `<name>-<revision>` releases, behind its Service)."""
    return [gateway_state(deployment, _name_only(deployment), warnings)
            for deployment in sorted(deployments, key=_name_only) if _name_only(deployment) != name]


# --- reading a cluster -----------------------------------------------------------------------------

def _service_lookup(client, istio_namespace, services):
    """(namespace, name) -> whether that Service exists: the istio namespace's from its list, the
    others asked once each."""
    known = {(istio_namespace, _name_only(s)): True for s in services}

    def exists(namespace, name):
        if (namespace, name) not in known:
            known[(namespace, name)] = namespace != istio_namespace and client.get("Service", name, namespace) is not None
        return known[(namespace, name)]
    return exists


def _name_only(obj):
    return ((obj or {}).get("metadata") or {}).get("name")


def read_revisions(client, istio_namespace, gateway_name, warnings=None):
    """The revisions of the cluster of client (the shape of mesh_revision_info's result, without
    probes): {revisions, tags, default_revision, gateway, gateway_canaries, namespaces, pods, dangling_webhooks}.
    warnings: a list that receives what was left out (malformed objects tenants control).
    KubeError when the cluster cannot be read."""
    warnings = [] if warnings is None else warnings
    services = client.list("Service", istio_namespace)
    configs = {kind: client.list(kind) for kind in WEBHOOK_KINDS}
    mutating = configs["MutatingWebhookConfiguration"]
    tags = read_tags(mutating, warnings)
    namespaces = read_namespaces(client.list("Namespace"), warnings)
    pods = count_pods(client.list("Pod"), warnings)
    gateway = gateway_state(client.get("Deployment", gateway_name, istio_namespace), gateway_name, warnings)
    revisions = istiod_revisions(client.list("Deployment", istio_namespace, "app=istiod"),
                                 {_name_only(s) for s in services}, warnings)
    for revision, state in revisions.items():
        state["in_use_by"] = in_use_by(revision, tags, namespaces, pods, gateway)
    return {
        "revisions": revisions,
        "tags": tags,
        "default_revision": default_revision(tags, mutating, istio_namespace),
        "gateway": gateway,
        "gateway_canaries": gateway_canaries(client.list("Deployment", istio_namespace, "app=%s" % gateway_name),
                                             gateway_name, warnings),
        "namespaces": namespaces,
        "pods": pods,
        "dangling_webhooks": dangling_webhooks(configs, _service_lookup(client, istio_namespace, services),
                                               warnings),
    }


# --- version window --------------------------------------------------------------------------------

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?\Z")


def parse_minor(version):
    """(major, minor) of an Istio version: 1.31.0, 1.31-dev, 1.31-alpha.20260423; ValueError otherwise."""
    match = _VERSION.match(str(version).strip()) if isinstance(version, str) else None
    if not match:
        raise ValueError("%r is not a version like 1.31.0 or 1.31-dev" % (version,))
    return int(match.group(1)), int(match.group(2))


def version_window(versions_by_cluster):
    """Whether the fleet stays within one minor of itself: {ok, min, max, outside, unparsed}.
    versions_by_cluster: {cluster: version or [versions]} (a cluster running two revisions counts
    both). min/max: the lowest and highest minor ("1.30"); outside: the clusters running a version
    more than one minor from the fleet's highest; unparsed: ["cluster: why"] (not ok)."""
    minors, unparsed = {}, []
    for cluster, versions in sorted(versions_by_cluster.items()):
        for version in versions if isinstance(versions, (list, tuple)) else [versions]:
            try:
                minors.setdefault(cluster, []).append(parse_minor(version))
            except ValueError as exc:
                unparsed.append("%s: %s" % (cluster, exc))
    found = [minor for per_cluster in minors.values() for minor in per_cluster]
    if not found:
        return {"ok": not unparsed, "min": None, "max": None, "outside": [], "unparsed": unparsed}
    highest = max(found)
    outside = [cluster for cluster, per_cluster in sorted(minors.items())
               if any(m[0] != highest[0] or highest[1] - m[1] > 1 for m in per_cluster)]
    return {"ok": not outside and not unparsed, "min": "%d.%d" % min(found), "max": "%d.%d" % highest,
            "outside": outside, "unparsed": unparsed}


# --- probes: the API server calls a revision's webhooks (dryRun=All, nothing persisted) -------------

def injection_probe_pod(revision, istio_namespace):
    """A Pod the revision's injector must inject: labelled istio.io/rev=<revision> (its rev.object.
    webhook), in the istio namespace, which pins no revision."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": PROBE_NAME_PREFIX, "namespace": istio_namespace,
                         "labels": {REVISION_LABEL: revision}},
            "spec": {"containers": [{"name": "probe", "image": "meshops.invalid/probe"}]}}


def validation_probe_gateway(revision, istio_namespace):
    """An Istio object the CRD schema accepts and istiod's validation rejects, labelled for the
    revision (its rev.validation.istio.io webhook selects istio.io/rev=<revision>).
    Chosen against the lab's real istiod (1.31-dev): a Gateway server with TLS mode SIMPLE and no
    certificate. The CRD's schema (and its CEL rules) leave TLS settings to istiod, which denies it
    ("SIMPLE TLS requires a server certificate"); the selector matches no gateway pod, so even if
    stored it would configure nothing. (A DestinationRule with maxConnections -1 is denied too.)"""
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"generateName": PROBE_NAME_PREFIX, "namespace": istio_namespace,
                         "labels": {REVISION_LABEL: revision}},
            "spec": {"selector": {"meshops.multicluster/probe": "none"},
                     "servers": [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                                  "hosts": ["probe.invalid"], "tls": {"mode": "SIMPLE"}}]}}


def injection_outcome(revision, answer):
    """{ok, message} of the injection probe from the Pod the API server answered."""
    annotations = ((answer or {}).get("metadata") or {}).get("annotations") or {}
    if SIDECAR_STATUS not in annotations:
        return {"ok": False, "message": "the API server admitted the probe pod without injecting it (no %s): no "
                                        "injection webhook of revision %s was called, or it failed open"
                                        % (SIDECAR_STATUS, revision)}
    try:
        injected_by = status_revision(annotations[SIDECAR_STATUS])
    except ValueError as exc:
        return {"ok": False, "message": "the probe pod was injected, but %s" % exc}
    if injected_by != revision:
        return {"ok": False, "message": "the probe pod was injected by revision %s, not %s" % (injected_by, revision)}
    return {"ok": True, "message": "injected by revision %s" % revision}


def validation_outcome(revision, error, own_webhooks):
    """{ok, message} of one validation probe, or None when it proves nothing. error: the KubeError of
    the dry-run create (None when the object was accepted); own_webhooks: the names of the validating
    webhooks that call the revision's istiod. ok when one of them denied the invalid object.
    The API server calls every matching validating webhook and answers the first error: the base
    chart's istiod-default-validator (no selector, it validates everything for the revision the
    default tag serves) may deny first for another revision's object; that answer proves nothing."""
    if error is None:
        return {"ok": False, "message": "the API server accepted an invalid Gateway labelled for revision %s: no "
                                        "validating webhook of it was called, or it failed open" % revision}
    message = str(error).strip()
    denied = _DENIED_BY.search(message)
    if denied and denied.group(1) in VALIDATION_WEBHOOKS:
        return {"ok": True, "message": message} if denied.group(1) in own_webhooks else None
    return {"ok": False, "message": message}


def own_validation_webhooks(revision, validating_configs, istio_namespace):
    """Names of the validating webhooks that call the Service of the revision's istiod."""
    service = (istio_namespace, istiod_name(revision))
    return {webhook for config in validating_configs
            for webhook, namespace, name in webhook_services(dict(config, kind="ValidatingWebhookConfiguration"))
            if (namespace, name) == service}


def _probe(client, obj):
    """(answer, None) of a dry-run create, or (None, the KubeError)."""
    try:
        return client.create(obj, dry_run=True), None
    except KubeError as exc:
        if exc.status == 403:
            raise
        return None, exc


def validation_probe(client, revision, istio_namespace, own_webhooks):
    """{ok, message}: the invalid Gateway sent until one answer proves something (a webhook of
    another revision may answer first: at most VALIDATION_ATTEMPTS tries)."""
    if not own_webhooks:
        return {"ok": False, "message": "no validating webhook calls Service %s/%s"
                                        % (istio_namespace, istiod_name(revision))}
    for _attempt in range(VALIDATION_ATTEMPTS):
        _answer, error = _probe(client, validation_probe_gateway(revision, istio_namespace))
        outcome = validation_outcome(revision, error, own_webhooks)
        if outcome is not None:
            return outcome
    return {"ok": False, "message": "in %d tries only webhooks of other revisions answered (last: %s)"
                                    % (VALIDATION_ATTEMPTS, str(error).strip())}


def probe_revision(client, revision, istio_namespace, validating_configs):
    """{injection: {ok, message}, validation: {ok, message}} of one revision. The messages quote the
    API server (a webhook it could not call: "failed calling webhook ...")."""
    answer, error = _probe(client, injection_probe_pod(revision, istio_namespace))
    injection = {"ok": False, "message": str(error).strip()} if error else injection_outcome(revision, answer)
    own = own_validation_webhooks(revision, validating_configs, istio_namespace)
    return {"injection": injection, "validation": validation_probe(client, revision, istio_namespace, own)}


def probe_revisions(client, revisions, istio_namespace):
    """{revision: probe_revision(...)} for each revision named (no request without one)."""
    if not revisions:
        return {}
    validating = client.list("ValidatingWebhookConfiguration")
    return {revision: probe_revision(client, revision, istio_namespace, validating) for revision in revisions}
