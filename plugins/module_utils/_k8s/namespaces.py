# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a namespace holds besides the collection's own objects: a namespace we created is deleted
only while it holds nothing of anyone else (DESIGN.md, Ownership by label).

Every namespaced kind the API server serves is looked at (discovery, then one list call per kind,
filtered by the server to objects without our label), not a fixed few. Not counted: what Kubernetes
and istiod put in every namespace, Events, and objects owned (ownerReferences) by an object of a
namespaced kind, which lives in the same namespace and is counted itself (or is ours). A kind this
identity may not list, or whose API does not answer, cannot be proven empty.
"""

from __future__ import annotations

from collections import namedtuple

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY, MANAGED_BY_LABEL
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.rules import allowed

NOT_OURS = "%s!=%s" % (MANAGED_BY_LABEL, MANAGED_BY)
# (group, kind, name) of what every namespace gets: Kubernetes' root CA bundle and default
# ServiceAccount, istiod's root certificate and (when cacerts holds a CRL) its revocation list.
EVERY_NAMESPACE = frozenset({("", "ConfigMap", "kube-root-ca.crt"), ("", "ServiceAccount", "default"),
                             ("", "ConfigMap", "istio-ca-root-cert"), ("", "ConfigMap", "istio-ca-crl")})
RECORDS = frozenset({("", "Event"), ("events.k8s.io", "Event")})  # what happened, not what is kept
PAGE = 100
SAMPLE = 3  # names per kind in a warning
LISTED = 10  # kinds named in a warning

Contents = namedtuple("Contents", "others forbidden failed")
Contents.__doc__ = """others: {kind: names} of objects of anyone else (more than SAMPLE names when there
are more); forbidden: kinds this identity may not list; failed: ["<kind or API>: why"] not read."""


def kind_name(resource):
    """Kind as kubectl takes it: Secret, CronJob.batch, ServiceEntry.networking.istio.io."""
    return resource["kind"] + ("." + resource["group"] if resource["group"] else "")


def _group(api_version):
    return api_version.rpartition("/")[0]


def _expected(resource, obj, namespaced_kinds):
    """Put there by Kubernetes or istiod, or derived from another object of the namespace."""
    meta = obj.get("metadata") or {}
    if (resource["group"], resource["kind"], meta.get("name")) in EVERY_NAMESPACE:
        return True
    return any((_group(ref.get("apiVersion") or ""), ref.get("kind")) in namespaced_kinds
               for ref in meta.get("ownerReferences") or [])


def _others(client, namespace, resource, namespaced_kinds):
    """Names of objects of anyone else of one kind: up to a page past SAMPLE, no more."""
    path = "/%s/namespaces/%s/%s" % (resource["path"], namespace, resource["resource"])
    names, query = [], {"labelSelector": NOT_OURS, "limit": PAGE}
    while True:
        listing = client.request("GET", path, query=query) or {}
        names += [(obj.get("metadata") or {}).get("name") or "?" for obj in listing.get("items") or []
                  if not _expected(resource, obj, namespaced_kinds)]
        token = (listing.get("metadata") or {}).get("continue")
        if len(names) > SAMPLE or not token:
            return names
        query = dict(query, **{"continue": token})


def _contents(client, namespace, resources, namespaced_kinds, undiscovered):
    rules = client.review_rules(namespace)
    others, forbidden, failed = {}, [], list(undiscovered)
    for resource in resources:
        kind = kind_name(resource)
        if not allowed(rules, resource["group"], resource["resource"], "list"):
            forbidden.append(kind)
            continue
        try:
            names = _others(client, namespace, resource, namespaced_kinds)
        except KubeError as exc:
            if exc.status == 403:  # the rules review may not know every authorizer
                forbidden.append(kind)
            else:
                failed.append("%s: %s" % (kind, exc))
            continue
        if names:
            others[kind] = names
    return Contents(others, forbidden, failed)


def contents(client, namespaces):
    """{namespace: Contents} of each of `namespaces`, with one discovery of the API for all."""
    resources, undiscovered = client.namespaced_resources()
    namespaced_kinds = {(resource["group"], resource["kind"]) for resource in resources}
    checked = [resource for resource in resources if (resource["group"], resource["kind"]) not in RECORDS]
    return {namespace: _contents(client, namespace, checked, namespaced_kinds, undiscovered)
            for namespace in namespaces}


def empty(found):
    """Holds nothing of anyone else, proven for every kind."""
    return not (found.others or found.forbidden or found.failed)


def _listed(items):
    shown = ", ".join(items[:LISTED])
    return shown + (" and %d more" % (len(items) - LISTED) if len(items) > LISTED else "")


def describe_others(others):
    """Secret db, token; ConfigMap settings and more"""
    return "; ".join("%s %s%s" % (kind, ", ".join(names[:SAMPLE]), " and more" if len(names) > SAMPLE else "")
                     for kind, names in sorted(others.items()))


def kept_warning(namespace, found, component_label):
    """Why a namespace of ours is not deleted, and what follows for it. It carries our label and the
    step's component_label."""
    head = "namespace %s was created by the services step and is no longer needed by it, but " % namespace
    if found.others:
        return head + ("holds objects that are not ours: %s. Not deleted; our labels (%s) removed from it: "
                       "it is yours now" % (describe_others(found.others), ", ".join((MANAGED_BY_LABEL, component_label))))
    reasons = []
    if found.forbidden:
        reasons.append("this identity may not list %s there" % _listed(found.forbidden))
    if found.failed:
        reasons.append("could not read %s" % _listed(found.failed))
    return head + ("cannot be proven empty: %s. Not deleted, still labelled as ours: the services step or its "
                   "uninstall run by an identity that may list every kind deletes it if it holds nothing but "
                   "ours, or delete it yourself" % "; ".join(reasons))
