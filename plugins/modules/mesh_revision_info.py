#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_revision_info
short_description: Read a cluster's Istio revisions, what uses each, and probe their webhooks
version_added: 1.1.0
description:
  - Reads which istiod revisions run (Deployments labelled C(app=istiod), C(istio.io/rev)), their chart
    version, readiness and Service; where the revision tags point (MutatingWebhookConfigurations labelled
    C(istio.io/tag)); which revision the C(default) tag serves; the east-west gateway's revision; the
    namespaces that pin a revision or tag; and how many running pods each revision injected (the
    C(revision) of their C(sidecar.istio.io/status) annotation).
  - Lists every webhook (mutating and validating) that calls a Service that does not exist, the state
    that left validation fail-closed after a revision was removed (istio#28880, istio#43227).
  - With O(probe_revisions), asks the API server to call each revision's webhooks without persisting
    anything (server-side dry run, C(dryRun=All), also in check mode) - a Pod labelled
    C(istio.io/rev=<revision>) must come back injected by that revision, and a Gateway that istiod's
    validation rejects (TLS mode C(SIMPLE) without a certificate) must be denied by its validation
    webhook, not fail to reach it.
  - A pod or namespace whose annotation or label cannot be read is left out with a warning naming it;
    the rest is read as usual.
options:
  gateway:
    description: Name of the east-west gateway Deployment (C(mesh_istio_gateway_name)) whose pod template's
      C(istio.io/rev) label says which revision injects it.
    type: str
    default: istio-eastwestgateway
  probe_revisions:
    description:
      - Revisions whose injection and validation webhooks the API server is asked to call (dry run).
      - Use C(default) for an istiod installed without a revision.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.attributes.read_only
notes:
  - The probes are create requests with C(dryRun=All) - the API server runs its admission chain and stores
    nothing, but they show in its audit log as create requests and need C(create) on pods and
    gateways.networking.istio.io in O(namespace).
seealso:
  - module: meshops.multicluster.mesh_check
  - module: meshops.multicluster.helm_release_info
  - module: meshops.multicluster.mesh_gateway_info
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Upgrading Istio cluster by cluster.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Revisions of the fleet
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Read the revisions, their tags and what uses them
      meshops.multicluster.mesh_revision_info:
        namespace: istio-system
        gateway: istio-eastwestgateway
      register: revisions

    - name: The webhooks of the default revision answer
      meshops.multicluster.mesh_revision_info:
        probe_revisions: ["{{ revisions.default_revision }}"]
      register: probed
      failed_when: >-
        not probed.probes[revisions.default_revision].injection.ok
        or not probed.probes[revisions.default_revision].validation.ok

# Before removing a revision: nothing may use it, and no webhook may be left pointing at a deleted Service.
- name: Is revision 1-30-2 still used?
  meshops.multicluster.mesh_revision_info:
    namespace: istio-system
  register: before_removal

- name: Refuse to remove a revision in use
  ansible.builtin.assert:
    that:
      - before_removal.revisions['1-30-2'].in_use_by == []
      - before_removal.dangling_webhooks == []
    fail_msg: "1-30-2 is used by {{ before_removal.revisions['1-30-2'].in_use_by | join(', ') }}"
"""

RETURN = r"""
revisions:
  description:
    - The istiod revisions that run (C(default) - an istiod installed without a revision).
    - C(release) - its Helm release and Deployment (C(istiod-<rev>), C(istiod)); C(version) - the chart version
      stamped on its Deployment (null without C(helm.sh/chart)); C(ready) - its Deployment is Available with
      every replica updated; C(service) - its Service exists; C(in_use_by) - why it may not be removed
      (C(tag <tag>), C(namespace <name>), C(namespace <name> (tag <tag>)), C(<n> pods), C(gateway <name>)),
      empty when nothing uses it.
  returned: success
  type: dict
  sample:
    1-31-0:
      release: istiod-1-31-0
      version: 1.31.0
      ready: true
      service: true
      in_use_by: [tag default, tag stable, namespace bar (tag default), 12 pods, gateway istio-eastwestgateway]
    canary:
      release: istiod-canary
      version: 1.31.0
      ready: true
      service: true
      in_use_by: [namespace shop]
tags:
  description: Revision tags (C(istio.io/tag) webhook configurations) - the revision each points at, and whether
    the collection made it (labelled managed by meshops.multicluster).
  returned: success
  type: dict
  sample:
    default: {revision: 1-31-0, ours: true}
    stable: {revision: 1-31-0, ours: true}
default_revision:
  description: The revision the C(default) tag points at; without a default tag C(default) when the legacy
    injector C(istio-sidecar-injector) exists; null otherwise.
  returned: success
  type: str
  sample: 1-31-0
gateway:
  description: The east-west gateway Deployment - its name, the revision (or tag) its pod template's
    C(istio.io/rev) names (C(default) without the label, null without the Deployment), and whether it is ready.
  returned: success
  type: dict
  sample: {name: istio-eastwestgateway, revision: 1-31-0, ready: true}
gateway_canaries:
  description:
    - The canary gateways beside the east-west gateway - the other Deployments labelled C(app=<gateway>) (the
      upgrade's C(<gateway>-<revision>) releases behind the same Service), each with its revision and readiness.
  returned: success
  type: list
  elements: dict
  version_added: 1.1.0
  sample: [{name: istio-eastwestgateway-1-31-1, revision: 1-31-1, ready: true}]
namespaces:
  description: The namespaces that ask for injection and the revision or tag they pin (C(istio.io/rev);
    C(istio-injection=enabled) is the C(default) tag).
  returned: success
  type: dict
  sample: {bar: default, shop: canary}
pods:
  description: Running pods per revision that injected them (the C(revision) of C(sidecar.istio.io/status)).
  returned: success
  type: dict
  sample: {1-31-0: 12, canary: 1}
dangling_webhooks:
  description: Webhooks whose C(clientConfig.service) names a Service that does not exist.
  returned: success
  type: list
  elements: dict
  sample:
    - kind: ValidatingWebhookConfiguration
      name: istiod-default-validator
      webhook: validation.istio.io
      service: istio-system/istiod-1-30-2
probes:
  description:
    - For each of O(probe_revisions), whether the API server called its webhooks. C(injection.ok) - a dry-run
      Pod labelled for it came back injected by it; C(validation.ok) - an invalid Gateway labelled for it was
      denied by istiod's validation webhook. C(message) quotes the API server.
  returned: success
  type: dict
  sample:
    canary:
      injection: {ok: true, message: injected by revision canary}
      validation:
        ok: false
        message: >-
          POST /apis/networking.istio.io/v1/namespaces/istio-system/gateways: 500 Internal error occurred:
          failed calling webhook "rev.validation.istio.io": failed to call webhook: Post
          "https://istiod-canary.istio-system.svc:443/validate?timeout=10s": dial tcp 10.96.0.12:443: connect:
          connection refused
api_requests:
  description: Requests sent to the API server (the probes count as reads - they persist nothing).
  returned: always
  type: dict
  sample: {read: 9, write: 0}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revisions import (
    probe_revisions, read_revisions)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE


def main():
    module = k8s_module(dict(
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        gateway=dict(type="str", default=GATEWAY),
        probe_revisions=dict(type="list", elements="str", default=[]),
    ), supports_check_mode=True)
    p = module.params
    client = k8s_client(module)
    warnings = []
    try:
        result = read_revisions(client, p["namespace"], p["gateway"], warnings)
        result["probes"] = probe_revisions(client, p["probe_revisions"], p["namespace"])
    except MeshError as exc:
        fail_with(module, exc, client)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
