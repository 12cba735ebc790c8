# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names Istio's charts give a control plane revision's objects, and what a revision name may be.

One home for them: the control_plane role, the upgrade role, the revision reader and the lab all
derive `istiod-<rev>`, `istio-<rev>`, `istio-revision-tag-<tag>` from here.
"""

from __future__ import annotations

import re

# How Istio labels (istio.io/rev) the objects and pods of an istiod installed without a revision
# (the in-place model); it is also the name of the tag that serves `istio-injection=enabled`, which
# is why no revision may be called so.
LEGACY_REVISION = "default"
DEFAULT_TAG = "default"
REVISION_LABEL = "istio.io/rev"
TAG_LABEL = "istio.io/tag"
# A revision is a DNS label (it becomes part of Service names) and must leave room for the
# `istiod-` prefix and Kubernetes' 63-character limit.
MAX_REVISION_LENGTH = 56
_REVISION = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def revision_of_version(version):
    """The revision name a chart version gets by default: 1.31.0 -> 1-31-0, 1.31-dev -> 1-31-dev."""
    name = re.sub(r"[^a-z0-9]+", "-", str(version).strip().lower()).strip("-")
    return name[:MAX_REVISION_LENGTH].rstrip("-")


def revision_problem(value):
    """What is wrong with a revision name, or None when it is one."""
    if not isinstance(value, str) or not _REVISION.match(value):
        return "expected a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, no dots"
    if len(value) > MAX_REVISION_LENGTH:
        return "expected at most %d characters (istiod-<revision> must stay a valid name)" % MAX_REVISION_LENGTH
    if value == LEGACY_REVISION:
        return "'default' is the name of Istio's default tag and of an istiod installed without a revision"
    return None


def _suffixed(base, revision):
    return base if revision in ("", LEGACY_REVISION) else "%s-%s" % (base, revision)


def istiod_name(revision):
    """Helm release, Deployment and Service of a revision's istiod (`istiod` without a revision)."""
    return _suffixed("istiod", revision)


def mesh_config_name(revision):
    """The ConfigMap holding the revision's mesh config (key `mesh`)."""
    return _suffixed("istio", revision)


def values_configmap_name(revision):
    """The ConfigMap holding the values the revision's istiod chart was installed with."""
    return _suffixed("values", revision)


def injector_webhook_name(revision, istio_namespace):
    """The MutatingWebhookConfiguration the revision's istiod chart creates."""
    name = _suffixed("istio-sidecar-injector", revision)
    return name if istio_namespace == "istio-system" else "%s-%s" % (name, istio_namespace)


def tag_webhook_name(tag, istio_namespace):
    """The MutatingWebhookConfiguration of a revision tag (as istioctl and the istiod chart name it)."""
    name = "istio-revision-tag-%s" % tag
    return name if istio_namespace == "istio-system" else "%s-%s" % (name, istio_namespace)
