# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Revision tags as the collection's own MutatingWebhookConfigurations (the backend of
mesh_revision_tags).

A tag webhook is rendered as the istiod chart's templates/revision-tags-mwc.yaml renders it - the
webhooks rev.namespace. and rev.object. for every tag, namespace. and object. besides for `default`,
with the template's selectors - and sends pods to the service of the revision's own injector
webhook (istio-sidecar-injector-<rev>). No caBundle: istiod patches it into every webhook
configuration labelled with its revision, and server-side apply never makes us own it.
Applied and pruned as one ObjectSet; a tag webhook of the same name that is not ours fails."""

from __future__ import annotations

import copy

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    DEFAULT_TAG, LEGACY_REVISION, REVISION_LABEL, TAG_LABEL, injector_webhook_name, revision_problem,
    tag_webhook_name)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.resources import ObjectSet
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import is_ours

KIND = "MutatingWebhookConfiguration"
COMPONENT_LABEL = "multicluster.meshops.io/component"
COMPONENT = "revision-tags"
PRUNE_LABEL = "%s=%s" % (COMPONENT_LABEL, COMPONENT)

_NOT_DISABLED = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}


def _absent(key):
    return {"key": key, "operator": "DoesNotExist"}


def _is_in(key, *values):
    return {"key": key, "operator": "In", "values": list(values)}


def _selectors(tag):
    """(webhook name prefix, namespaceSelector, objectSelector) of a tag, as the chart's template has them."""
    selectors = [
        ("rev.namespace.", [_is_in(REVISION_LABEL, tag), _absent("istio-injection")], [_NOT_DISABLED]),
        ("rev.object.", [_absent(REVISION_LABEL), _absent("istio-injection")], [_NOT_DISABLED, _is_in(REVISION_LABEL, tag)]),
    ]
    if tag == DEFAULT_TAG:
        selectors += [
            ("namespace.", [_is_in("istio-injection", "enabled")], [_NOT_DISABLED]),
            ("object.", [_absent("istio-injection"), _absent(REVISION_LABEL)],
             [_is_in("sidecar.istio.io/inject", "true"), _absent(REVISION_LABEL)]),
        ]
    return selectors


class TagError(MeshError, ValueError):
    pass


def injector_core(injector, revision):
    """What every webhook of a tag takes from the revision's injector webhook: its clientConfig
    (without caBundle) and reinvocationPolicy. TagError when the injector has no webhook to take it from."""
    name = ((injector or {}).get("metadata") or {}).get("name")
    webhooks = (injector or {}).get("webhooks")
    first = webhooks[0] if isinstance(webhooks, list) and webhooks and isinstance(webhooks[0], dict) else {}
    client_config = first.get("clientConfig")
    if not isinstance(client_config, dict) or not isinstance(client_config.get("service") or client_config.get("url"),
                                                             (dict, str)):
        raise TagError("MutatingWebhookConfiguration %s (the injector of revision %s) has no webhook with a "
                       "clientConfig service or url to point the tags at: reinstall istiod of revision %s"
                       % (name, revision, revision))
    client_config = {k: copy.deepcopy(v) for k, v in client_config.items() if k != "caBundle"}
    reinvocation = first.get("reinvocationPolicy")
    return client_config, reinvocation if reinvocation in ("Never", "IfNeeded") else "Never"


def tag_webhook(tag, revision, injector, namespace):
    """The MutatingWebhookConfiguration of `tag`, pointing at `revision` through its injector webhook."""
    client_config, reinvocation = injector_core(injector, revision)
    webhooks = [{
        "name": "%ssidecar-injector.istio.io" % prefix,
        "clientConfig": client_config,
        "sideEffects": "None",
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
        "failurePolicy": "Fail",
        "reinvocationPolicy": reinvocation,
        "admissionReviewVersions": ["v1"],
        "namespaceSelector": {"matchExpressions": namespace_selector},
        "objectSelector": {"matchExpressions": object_selector},
    } for prefix, namespace_selector, object_selector in _selectors(tag)]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": KIND,
        "metadata": {"name": tag_webhook_name(tag, namespace),
                     "labels": {COMPONENT_LABEL: COMPONENT, TAG_LABEL: tag, REVISION_LABEL: revision}},
        "webhooks": webhooks,
    }


def tags_problems(tags):
    """What is wrong with tags ({tag: revision}): a tag is a revision name or `default`; a revision
    is a revision name, or `default` for an istiod installed without one."""
    problems = []
    for tag, revision in sorted((tags or {}).items(), key=str):
        if tag != DEFAULT_TAG and revision_problem(tag):
            problems.append("tag %r: %s" % (tag, revision_problem(tag)))
        if revision != LEGACY_REVISION and revision_problem(revision):
            problems.append("tags[%r]=%r: %s" % (tag, revision, revision_problem(revision)))
    return problems


def current_tags(webhooks):
    """{tag: {revision, ours}} of the tag webhooks found (labelled istio.io/tag), ours or not."""
    tags = {}
    for webhook in webhooks:
        labels = (webhook.get("metadata") or {}).get("labels") or {}
        if labels.get(TAG_LABEL):
            tags[labels[TAG_LABEL]] = {"revision": labels.get(REVISION_LABEL), "ours": is_ours(webhook)}
    return tags


def desired_webhooks(client, tags, namespace):
    """The tag webhooks of tags ({tag: revision}), from each revision's live injector webhook.
    TagError when a revision has none (its istiod is not installed)."""
    problems = tags_problems(tags)
    if problems:
        raise TagError("tags has %d problem(s): %s" % (len(problems), "; ".join(problems)), field="tags")
    injectors = {}
    for revision in sorted(set(tags.values())):
        name = injector_webhook_name(revision, namespace)
        injectors[revision] = client.get(KIND, name)
        if injectors[revision] is None:
            raise TagError("revision %s has no injector webhook (MutatingWebhookConfiguration %s): install istiod "
                           "of that revision before pointing a tag at it" % (revision, name))
    return [tag_webhook(tag, revision, injectors[revision], namespace) for tag, revision in sorted(tags.items())]


def keep_tags(client, tags, namespace, diff=False):
    """Point the tags at their revisions and prune our tag webhooks that are not among them; with
    tags None, only read. Returns mesh_revision_tags' result (tags_before: the tag webhooks as found)."""
    before = current_tags(client.list(KIND, label_selector=TAG_LABEL))
    if tags is None:
        return dict(changed=False, created=[], updated=[], deleted=[], unchanged=0, tags_before=before)
    result = ObjectSet(desired_webhooks(client, tags, namespace), PRUNE_LABEL, [KIND]).present(client, diff=diff)
    result.pop("resources", None)
    result["tags_before"] = before
    return result
