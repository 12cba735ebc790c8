#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_resources
short_description: Keep a set of Kubernetes objects owned by meshops.multicluster in one cluster
version_added: 0.1.0
description:
  - Applies a whole set of objects in one call with server-side apply (field manager
    C(meshops.multicluster)), labelling each with C(app.kubernetes.io/managed-by=meshops.multicluster).
  - Lists each kind once, writes only the objects that differ, and with O(prune_label) deletes the
    objects of that set which are no longer desired.
  - An existing object of the same name that does not carry the collection's label is never
    modified; the module fails naming it.
  - Used by the roles for the control plane's C(*.global) Gateway and DestinationRule, the
    C(istio-system) namespace and the DNS zone server.
options:
  objects:
    description:
      - The desired objects. Each needs C(kind) and C(metadata.name) (and C(metadata.namespace) for
        namespaced kinds). Supported kinds are Namespace, ConfigMap, Service, ServiceAccount, ClusterRole,
        ClusterRoleBinding, Role, RoleBinding, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
        Deployment, Gateway, DestinationRule and ServiceEntry.
    type: list
    elements: dict
    default: []
  state:
    description:
      - V(present) applies O(objects); V(absent) deletes those of them that exist and are ours.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until every Deployment of O(objects) is Available (after applying; in check mode, as it is).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait).
    type: int
    default: 120
  prune_label:
    description:
      - A label C(key=value) that marks this set. It is added to every object; objects of ours
        with this label that are not in O(objects) are deleted.
      - Without it nothing is pruned.
    type: str
  prune_kinds:
    description:
      - The kinds searched for objects to prune; by default the kinds of O(objects). Name a kind the
        set no longer has to remove its last objects.
    type: list
    elements: str
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is written.
  diff_mode:
    support: full
    description: Before and after of every changed object (Secret data redacted).
  idempotent:
    support: full
    description: A second run reports no change and makes no write request.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: The *.global routing of this cluster's east-west gateway
  meshops.multicluster.mesh_resources:
    prune_label: multicluster.meshops.io/component=global-routing
    prune_kinds: [Gateway, DestinationRule]
    objects:
      - kind: Gateway
        metadata: {name: meshops-global, namespace: istio-system}
        spec:
          selector: {istio: eastwestgateway}
          servers:
            - port: {number: 15443, name: tls, protocol: TLS}
              tls: {mode: AUTO_PASSTHROUGH}
              hosts: ["*.global"]
"""

RETURN = r"""
created:
  description: C(Kind namespace/name) of each object created.
  returned: always
  type: list
  elements: str
updated:
  description: Objects whose desired fields differed and were re-applied.
  returned: always
  type: list
  elements: str
deleted:
  description: Objects deleted (state absent, or pruned).
  returned: always
  type: list
  elements: str
unchanged:
  description: Number of objects already as desired.
  returned: always
  type: int
resources:
  description:
    - The desired objects as they are in the cluster (after the write), in the order of O(objects),
      for example to read a Service's C(spec.clusterIP). Null for an object not (yet) in the cluster.
  returned: when O(state=present)
  type: list
  elements: dict
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 2, write: 0}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import deployments_waiting
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KINDS, KubeError, is_ours
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile


def _validate(module, objects):
    for kind in module.params["prune_kinds"] or []:
        if kind not in KINDS:
            module.fail_json(msg="prune_kinds has %r: expected kinds among %s" % (kind, ", ".join(sorted(KINDS))))
    for index, obj in enumerate(objects):
        where = "objects[%d]" % index
        kind = obj.get("kind")
        if kind not in KINDS:
            module.fail_json(msg="%s.kind is %r: expected one of %s" % (where, kind, ", ".join(sorted(KINDS))))
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            module.fail_json(msg="%s.metadata.name is missing: every object needs a name" % where)
        if KINDS[kind][2] and not meta.get("namespace"):
            module.fail_json(msg="%s (%s %s) has no metadata.namespace: %s is namespaced"
                             % (where, kind, meta["name"], kind))


def _parse_label(module, value):
    if value is None:
        return None
    key, sep, label_value = value.partition("=")
    if not sep or not key:
        module.fail_json(msg="prune_label is %r: expected key=value" % value)
    return {key: label_value}


def _live_objects(client, desired, prune_labels, prune_kinds):
    """One list per (kind, namespace) of the desired objects; one labelled list per kind to prune."""
    live = {}
    scopes = {(obj["kind"], obj["metadata"].get("namespace") if KINDS[obj["kind"]][2] else None) for obj in desired}
    for kind, namespace in sorted(scopes, key=str):
        for item in client.list(kind, namespace):
            item.setdefault("kind", kind)
            live[reconcile.object_key(item)] = item
    if prune_labels:
        selector = ",".join("%s=%s" % kv for kv in prune_labels.items())
        for kind in sorted(prune_kinds or {obj["kind"] for obj in desired} or KINDS):
            for item in client.list(kind, label_selector=selector):
                item.setdefault("kind", kind)
                live[reconcile.object_key(item)] = item
    return list(live.values())


def main():
    module = k8s_module(
        dict(objects=dict(type="list", elements="dict", default=[]),
             state=dict(type="str", choices=["present", "absent"], default="present"),
             prune_label=dict(type="str"),
             prune_kinds=dict(type="list", elements="str"),
             wait=dict(type="bool", default=False),
             wait_timeout=dict(type="int", default=120)),
        supports_check_mode=True)
    objects = module.params["objects"]
    _validate(module, objects)
    prune_labels = _parse_label(module, module.params["prune_label"])
    desired = [reconcile.owned(obj, prune_labels) for obj in objects]
    client = k8s_client(module)
    try:
        if module.params["state"] == "absent":
            live = [client.get(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in desired]
            the_plan = reconcile.Plan()
            the_plan.delete = [dict(obj, kind=o["kind"]) for obj, o in zip(live, desired) if obj and is_ours(obj)]
        else:
            live = _live_objects(client, desired, prune_labels, module.params["prune_kinds"])
            the_plan = reconcile.plan(desired, live, prune=bool(prune_labels),
                                      prune_match=lambda obj: all(
                                          obj["metadata"].get("labels", {}).get(k) == v
                                          for k, v in (prune_labels or {}).items()))
        if the_plan.conflicts:
            names = ", ".join(reconcile.key_name(reconcile.object_key(live)) for _desired, live in the_plan.conflicts)
            module.fail_json(msg="%s already exist(s) without the label app.kubernetes.io/managed-by="
                                 "meshops.multicluster: not ours, so not changed. Remove or rename it, "
                                 "or label it to hand it over." % names, api_requests=client.requests)
        stored = {} if module.check_mode else reconcile.execute(client, the_plan)
        if module.params["wait"] and not module.check_mode:
            _wait_available(module, client, desired)
    except KubeError as exc:
        module.fail_json(msg=str(exc), api_requests=client.requests)
    result = dict(
        changed=the_plan.changed,
        created=[reconcile.key_name(reconcile.object_key(o)) for o in the_plan.create],
        updated=[reconcile.key_name(reconcile.object_key(o)) for o, _live in the_plan.update],
        deleted=[reconcile.key_name(reconcile.object_key(o)) for o in the_plan.delete],
        unchanged=len(the_plan.unchanged),
        api_requests=client.requests,
    )
    if module.params["state"] == "present":
        by_key = {reconcile.object_key(obj): obj for obj in live}
        by_key.update(stored)
        result["resources"] = [by_key.get(reconcile.object_key(obj)) for obj in desired]
    if module._diff:
        result["diff"] = reconcile.diff(the_plan)
    module.exit_json(**result)


def _wait_available(module, client, desired):
    deployments = [(obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in desired if obj["kind"] == "Deployment"]
    waiting, _waited = wait(lambda: deployments_waiting(client, deployments), module.params["wait_timeout"])
    if waiting:
        module.fail_json(msg="not Available after %ds: %s" % (module.params["wait_timeout"], "; ".join(waiting)),
                         api_requests=client.requests)


if __name__ == "__main__":
    main()
