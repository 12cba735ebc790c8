#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_revision_tags
short_description: Point Istio revision tags at revisions, as webhooks the collection owns
version_added: 1.1.0
description:
  - Keeps the revision tags of one cluster - C(default) and the C(stable)/C(canary) pair - as
    MutatingWebhookConfigurations C(istio-revision-tag-<tag>) labelled as the collection's
    (C(app.kubernetes.io/managed-by=meshops.multicluster), C(multicluster.meshops.io/component=revision-tags),
    C(istio.io/tag), C(istio.io/rev)). Helm owns none of them.
  - Each is rendered as the istiod chart's C(templates/revision-tags-mwc.yaml) renders it (webhooks
    C(rev.namespace.) and C(rev.object.), and for C(default) also C(namespace.) and C(object.), which serve
    namespaces labelled C(istio-injection=enabled)), sending pods to the service of the revision's own
    injector webhook C(istio-sidecar-injector-<revision>). No C(caBundle) - istiod patches it in.
  - Creates the tags asked for, moves those that point elsewhere, and deletes the collection's tag
    webhooks that O(tags) no longer names, with one list of the webhook configurations and writes
    only for what differs (server-side apply).
  - A tag webhook of the same name that is not the collection's (made by C(istioctl tag set) or the
    chart's C(revisionTags)) is never changed; the module fails naming it, before any write.
  - Fails, before any write, when a revision of O(tags) has no injector webhook (its istiod is not installed).
options:
  tags:
    description:
      - Tag name to the revision it points at. A tag is a revision name or V(default); a revision is
        a revision name (C(1-31-0)), or V(default) for an istiod installed without a revision.
      - The collection's tag webhooks not named here are deleted; V({}) deletes them all.
      - Left out, the module only reads the tags (RV(tags_before)) and changes nothing.
    type: dict
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is written.
  diff_mode:
    support: full
    description: Before and after of every tag webhook created, moved or deleted.
  idempotent:
    support: full
    description: A second run reports no change and makes no write request.
seealso:
  - module: meshops.multicluster.mesh_resources
  - module: meshops.multicluster.helm_release_info
  - plugin: meshops.multicluster.revision_names
    plugin_type: filter
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Revisions, tags and upgrading Istio cluster by cluster.
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: What the control_plane step may read and write.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the control_plane role does in steady state: every tag points at the fleet's revision.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Revision tags of this cluster
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Point default, stable and canary at revision 1-31-0
      meshops.multicluster.mesh_revision_tags:
        namespace: istio-system
        tags: {default: 1-31-0, stable: 1-31-0, canary: 1-31-0}
      register: tags

    - name: Say what moved
      ansible.builtin.debug:
        msg: "created {{ tags.created }}, moved {{ tags.updated }}, pruned {{ tags.deleted }}; before: {{ tags.tags_before }}"

    - name: Move only the canary tag to the new revision
      meshops.multicluster.mesh_revision_tags:
        namespace: istio-system
        tags: {default: 1-31-0, stable: 1-31-0, canary: 1-32-0}
"""

RETURN = r"""
tags_before:
  description: The tag webhooks found before any change (labelled C(istio.io/tag)), the collection's or not.
  returned: always
  type: dict
  sample:
    default: {revision: 1-30-2, ours: true}
    stable: {revision: 1-30-2, ours: true}
    prod: {revision: 1-29-0, ours: false}
created:
  description: Tag webhooks created.
  returned: always
  type: list
  elements: str
  sample: [MutatingWebhookConfiguration istio-revision-tag-canary]
updated:
  description: Tag webhooks moved to another revision (or otherwise re-applied).
  returned: always
  type: list
  elements: str
  sample: [MutatingWebhookConfiguration istio-revision-tag-default]
deleted:
  description: The collection's tag webhooks deleted, no longer named by O(tags).
  returned: always
  type: list
  elements: str
  sample: [MutatingWebhookConfiguration istio-revision-tag-old]
unchanged:
  description: Number of tag webhooks already as desired.
  returned: always
  type: int
  sample: 3
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 3, write: 0}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_tags import keep_tags


def main():
    module = k8s_module(dict(namespace=dict(type="str", default=ISTIO_NAMESPACE),
                             tags=dict(type="dict")),
                        supports_check_mode=True)
    client = k8s_client(module)
    try:
        result = keep_tags(client, module.params["tags"], module.params["namespace"], diff=module._diff)
    except MeshError as exc:
        fail_with(module, exc, client)
    module.exit_json(api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
