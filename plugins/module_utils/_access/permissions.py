# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes permissions each step of the collection needs, written once.

The same rules make the RBAC objects of playbooks/rbac.yml (rbac_objects, with the admission policy
that keeps the identity's namespace writes to namespaces labelled ours), the check every step
runs before its first write (missing), the words of a 403 (worded: the client raises Forbidden, the
module layer words it here) and the table of docs/permissions.md (markdown_table). Pure functions:
no cluster access, no Ansible.

Scopes: "cluster" rules go into a ClusterRole, "mesh" rules into a Role in the control plane's
namespace, "kube-system" rules into a Role there (the cluster DNS lives there). Names may hold
{mesh} (the control plane's namespace) and {gateway} (the east-west gateway's name).
"""

from __future__ import annotations

import json
from collections import namedtuple

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import Forbidden, api_resource
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.rules import allowed
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import (
    CA_CRL_CONFIGMAP, CA_ROOT_CONFIGMAP, CACERTS, CACERTS_NEXT, GATEWAY, ISTIO_NAMESPACE, VIP_STORE, ZONE_RECORDS, ZONE_SERVER)

Rule = namedtuple("Rule", "scope group resources verbs names why option")

STEPS = ("trust", "control_plane", "dns", "services", "verify", "upgrade", "trace")
# The identity of day-2 operations: every step but the control plane's install and upgrade.
OPERATE_STEPS = ("trust", "dns", "services", "verify", "trace")
# Rules only some fleets need, and the inventory variable of playbooks/rbac.yml that grants them.
OPTIONS = {
    "replicate_namespaces": "mesh_services_namespace_mode is replicate: the services step creates the namespace of "
                            "an exported Service where an importing cluster lacks it, and hands it over (removes "
                            "its label) when it is no longer needed and holds objects of others",
    "dns_configmap_create": "the cluster DNS is kube-dns, or CoreDNS with custom_configmap: the dns step creates "
                            "its own ConfigMap in kube-system (Kubernetes authorizes a create before it knows the name)",
    "sidecar_dns_proxy": "mesh_dns_mode is sidecar_proxy: the dns step reads istiod's mesh config",
    "revocation": "mesh_ca_revocation is true: the trust step waits until istiod publishes the fleet's CRL",
    "istiod_debug": "mesh_trace_istiod_debug is true: the trace reads the host from istiod's debug views (port 15014) "
                    "through a port-forward to istiod's pod, as istioctl does (a port-forward stores no object)",
}
IDENTITY_NAME = "meshops-operate"
DNS_CONFIGMAPS = ("coredns", "kube-dns", "coredns-custom")


def _rule(scope, group, resources, verbs, names=(), why="", option=None):
    return Rule(scope, group, tuple(resources), tuple(verbs), tuple(names), why, option)


# Every playbook's preflight asks each cluster who it is before any write (fleet.cluster_uid).
CLUSTER_IDENTITY = _rule("cluster", "", ["namespaces"], ["get"], ["kube-system"],
                         "who the cluster is (the kube-system namespace's uid), read before any write")


PERMISSIONS = {
    "trust": (
        CLUSTER_IDENTITY,
        _rule("mesh", "", ["secrets"], ["get", "create", "patch", "delete"], [CACERTS, CACERTS_NEXT],
              "read, issue, renew and remove the cluster's intermediate CA, and stage the next one while revocation "
              "is on; no other Secret"),
        _rule("mesh", "", ["configmaps"], ["get"], [CA_ROOT_CONFIGMAP, CA_CRL_CONFIGMAP],
              "whether istiod runs and has published the fleet's CRL", option="revocation"),
        _rule("cluster", "", ["namespaces"], ["get"], ["{mesh}"],
              "whether the control plane's namespace exists (playbooks/rbac.yml creates it)"),
    ),
    # Helm installs Istio's CRDs, ClusterRoles, webhooks and workloads; Kubernetes lets only an
    # identity that holds a permission grant it, so this step needs cluster-admin in practice.
    "control_plane": (
        CLUSTER_IDENTITY,
        _rule("cluster", "apiextensions.k8s.io", ["customresourcedefinitions"], ["get", "create", "update", "patch"],
              why="Istio's CRDs (chart base)"),
        _rule("cluster", "rbac.authorization.k8s.io", ["clusterroles", "clusterrolebindings"],
              ["get", "create", "update", "patch", "bind", "escalate"], why="istiod's and the gateway's ClusterRoles"),
        _rule("cluster", "admissionregistration.k8s.io",
              ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"], ["get", "create", "update", "patch"],
              why="sidecar injection and config validation webhooks"),
        _rule("cluster", "admissionregistration.k8s.io", ["mutatingwebhookconfigurations"], ["list", "delete"],
              why="the revision tags: listed by our label, a tag no longer wanted deleted"),
        _rule("mesh", "", ["secrets"], ["list", "get", "create", "update"],
              why="Helm's release records, Secrets owner=helm"),
        _rule("mesh", "apps", ["deployments"], ["get", "create", "update", "patch"], why="istiod and the gateway"),
    ),
    "dns": (
        CLUSTER_IDENTITY,
        _rule("mesh", "", ["configmaps", "services"], ["list"], why="the zone server's objects, listed once per kind"),
        _rule("mesh", "apps", ["deployments"], ["list"], why="the zone server's objects, listed once per kind"),
        _rule("mesh", "", ["configmaps", "services"], ["get", "create", "patch", "delete"], [ZONE_SERVER],
              "the global zone server: its Corefile and Service"),
        _rule("mesh", "apps", ["deployments"], ["get", "create", "patch", "delete"], [ZONE_SERVER],
              "the global zone server"),
        _rule("kube-system", "apps", ["deployments"], ["list"], why="find the cluster DNS (CoreDNS or kube-dns)"),
        _rule("kube-system", "", ["configmaps"], ["get", "patch"], DNS_CONFIGMAPS,
              "delegate zone global in the cluster DNS's ConfigMap (one key, conditional on its version)"),
        # Every revision has its own (istio-<revision>); the step lists the namespace's ConfigMaps anyway.
        _rule("mesh", "", ["configmaps"], ["get"], option="sidecar_dns_proxy",
              why="whether istiod's mesh config turns the sidecar DNS proxy on"),
        _rule("kube-system", "", ["configmaps"], ["create", "delete"], option="dns_configmap_create",
              why="kube-dns's stubDomains or CoreDNS's coredns-custom ConfigMap, when missing (and when it empties)"),
    ),
    "services": (
        CLUSTER_IDENTITY,
        _rule("cluster", "", ["services", "namespaces", "nodes"], ["list"],
              why="exported Services, namespaces in use, node addresses of a NodePort gateway"),
        _rule("cluster", "apps", ["deployments"], ["list"], why="whether a namespace of ours holds anything else"),
        _rule("cluster", "networking.istio.io", ["serviceentries", "destinationrules"],
              ["list", "create", "patch", "delete"], why="the ServiceEntries and DestinationRules of the .global hosts"),
        _rule("mesh", "", ["services"], ["get"], ["{gateway}"], "the gateway's address"),
        _rule("mesh", "", ["configmaps"], ["get", "update", "patch", "delete"], [VIP_STORE, ZONE_RECORDS],
              "the VIP store and the zone server's records"),
        _rule("mesh", "", ["configmaps"], ["create"],
              why="the VIP store, once (a create is authorized before Kubernetes knows the name)"),
        # No delete: this identity cannot list every kind (Secrets), so it never proves a namespace empty.
        _rule("cluster", "", ["namespaces"], ["get", "create", "patch"], option="replicate_namespaces",
              why="the namespaces the ServiceEntries go into; create and patch only of namespaces labelled ours "
                  "(ValidatingAdmissionPolicy %s-namespaces)" % IDENTITY_NAME),
    ),
    "verify": (
        CLUSTER_IDENTITY,
        _rule("cluster", "", ["services", "namespaces", "nodes"], ["list"], why="as the services step reads them"),
        _rule("cluster", "apps", ["deployments"], ["list"], why="as the services step reads them"),
        _rule("cluster", "networking.istio.io", ["serviceentries", "destinationrules"], ["list"],
              why="compare each cluster's ServiceEntries with the plan"),
        _rule("mesh", "", ["secrets"], ["get"], [CACERTS], "the cluster's intermediate CA"),
        # Not by name: istiod's values are per revision (values-<revision>), and the step lists them anyway.
        _rule("mesh", "", ["configmaps"], ["get"],
              why="the roots istiod hands out, istiod's Helm values, the VIP store, the zone records"),
        _rule("mesh", "", ["configmaps", "services"], ["list"], why="the zone server's objects"),
        _rule("mesh", "apps", ["deployments"], ["list"], why="the zone server's objects"),
        _rule("mesh", "", ["services"], ["get"], ["{gateway}"], "the gateway's address"),
        _rule("mesh", "", ["serviceaccounts"], ["get"], ["istio-reader-service-account"],
              "the chart version of Istio's base chart"),
        _rule("mesh", "apps", ["deployments"], ["get"], why="readiness and chart versions of istiod (istiod-<revision>) "
              "and the gateway"),
        _rule("kube-system", "apps", ["deployments"], ["list"], why="find the cluster DNS"),
        _rule("kube-system", "", ["configmaps"], ["get"], DNS_CONFIGMAPS, "whether zone global is delegated"),
        _rule("cluster", "", ["pods"], ["list"], why="the pods each Istio revision injected (their sidecar status)"),
        _rule("cluster", "admissionregistration.k8s.io",
              ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"], ["list"],
              why="where the revision tags point, and the webhooks whose Service does not exist"),
        _rule("cluster", "", ["services"], ["get"], why="a webhook's Service outside the control plane's namespace"),
    ),
}


READ_VERBS = ("get", "list")


def _reads_of(step, why):
    """The read verbs of step's rules (option-free ones), each saying why another step reads them."""
    return tuple(rule._replace(verbs=reads, why=why)
                 for rule in PERMISSIONS[step] if rule.option is None and rule is not CLUSTER_IDENTITY
                 for reads in [tuple(verb for verb in rule.verbs if verb in READ_VERBS)] if reads)


# playbooks/trace.yml reads what the fleet check reads of the services (the plan) and, for one host, its
# Service, EndpointSlices and namespace in any cluster, the gateway's routing and the roots istiod hands out.
PERMISSIONS["trace"] = (CLUSTER_IDENTITY,) + _reads_of(
    "services", "the services plan, as the services step makes it") + (
    _rule("cluster", "", ["services", "namespaces"], ["get"], why="the traced host's Service and its namespace"),
    _rule("cluster", "discovery.k8s.io", ["endpointslices"], ["list"], why="the traced Service's ready endpoints"),
    _rule("mesh", "", ["secrets"], ["get"], [CACERTS], "the intermediate CA (certificates only; the key is not kept)"),
    _rule("mesh", "", ["configmaps"], ["get"], why="the roots istiod hands out, the zone records, istiod's mesh config"),
    _rule("mesh", "", ["configmaps", "services"], ["list"], why="the zone server's objects (the dns step's check)"),
    _rule("mesh", "apps", ["deployments"], ["list", "get"], why="the zone server's objects; whether the gateway is ready"),
    _rule("mesh", "networking.istio.io", ["gateways"], ["get"], ["meshops-global"], "the gateway's *.global routing"),
    _rule("kube-system", "apps", ["deployments"], ["list"], why="find the cluster DNS"),
    _rule("kube-system", "", ["configmaps"], ["get"], DNS_CONFIGMAPS, "whether zone global is delegated"),
    _rule("mesh", "", ["pods"], ["list"], option="istiod_debug", why="find a ready pod of istiod's revision"),
    # A websocket port-forward is authorized as get (and also as create from Kubernetes 1.35, gate
    # AuthorizePodWebsocketUpgradeCreatePermission), one over SPDY (kubectl before 1.31) as create.
    _rule("mesh", "", ["pods/portforward"], ["get", "create"], option="istiod_debug",
          why="istiod's debug views (/debug/registryz, /debug/endpointShardz on port 15014) through a port-forward, "
              "where istiod answers them (to localhost); it stores no object"),
)


# playbooks/upgrade.yml installs and removes revisions with Helm as the control plane step does
# (cluster-admin in practice), and reads what uses each revision, calls its webhooks, reads the gates;
# its gate "importers" plans the services as the services step does and compares every importer's
# ServiceEntries with that plan (a dry comparison: nothing is written).
PERMISSIONS["upgrade"] = PERMISSIONS["control_plane"] + _reads_of(
    "services", "the gate importers: the services plan, each importer's ServiceEntries compared with it") + (
    _rule("cluster", "", ["namespaces", "pods"], ["list"],
          why="what keeps a revision in use: namespaces that pin it, pods it injected"),
    _rule("cluster", "admissionregistration.k8s.io", ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
          ["list", "delete"], why="each revision's webhooks and their Services; tags moved and pruned; an old "
                                  "revision's webhooks removed with it"),
    _rule("mesh", "", ["pods"], ["create"], why="the injection probe: a Pod labelled for a revision, created as a "
                                                "dry run (the API server calls the webhook; nothing is kept)"),
    _rule("mesh", "networking.istio.io", ["gateways"], ["create"],
          why="the validation probe: an invalid Gateway, created as a dry run"),
    _rule("mesh", "", ["services", "configmaps"], ["list", "get"],
          why="each revision's Service, mesh config and values; the gates read the cluster as the fleet check does"),
    _rule("mesh", "", ["serviceaccounts"], ["get"], why="the gates read the cluster as the fleet check does"),
    _rule("mesh", "apps", ["deployments"], ["list", "delete"], why="each revision's istiod; an old one removed"),
    _rule("mesh", "", ["services", "configmaps", "serviceaccounts", "secrets"], ["delete"],
          why="helm uninstall of an old revision's istiod and its release records"),
    _rule("mesh", "rbac.authorization.k8s.io", ["roles", "rolebindings"], ["delete"],
          why="helm uninstall of an old revision's istiod"),
    _rule("cluster", "rbac.authorization.k8s.io", ["clusterroles", "clusterrolebindings"], ["delete"],
          why="helm uninstall of an old revision's istiod"),
)


def step_rules(steps, mesh_namespace=ISTIO_NAMESPACE, gateway=GATEWAY, options=tuple(OPTIONS)):
    """The rules of `steps`, names filled in: [(step, Rule)], with `options` granted (names from OPTIONS)."""
    problems = ["%r is not a step: expected %s" % (step, ", ".join(STEPS)) for step in steps if step not in PERMISSIONS]
    problems += ["%r is not an option: expected %s" % (option, ", ".join(OPTIONS)) for option in options
                 if option not in OPTIONS]
    if problems:
        raise ValueError("; ".join(problems))
    filled = []
    for step in steps:
        for rule in PERMISSIONS[step]:
            if rule.option and rule.option not in options:
                continue
            names = tuple(name.format(mesh=mesh_namespace, gateway=gateway) for name in rule.names)
            filled.append((step, rule._replace(names=names)))
    return filled


def namespace_of(rule, mesh_namespace):
    return {"cluster": None, "mesh": mesh_namespace}.get(rule.scope, rule.scope)


def _policy_rule(rule):
    out = {"apiGroups": [rule.group], "resources": list(rule.resources), "verbs": list(rule.verbs)}
    if rule.names:
        out["resourceNames"] = list(rule.names)
    return out


def _merged(rules):
    """Policy rules of `rules`: one per API group, resource and names, with every verb once, in a stable order."""
    verbs = {}
    for rule in rules:
        for resource in rule.resources:
            listed = verbs.setdefault((rule.group, resource, rule.names), [])
            listed += [verb for verb in rule.verbs if verb not in listed]
    return [_policy_rule(Rule(None, group, (resource,), tuple(listed), names, "", None))
            for (group, resource, names), listed in sorted(verbs.items())]


def rbac_objects(subjects, labels, mesh_namespace=ISTIO_NAMESPACE, gateway=GATEWAY, options=tuple(OPTIONS),
                 steps=OPERATE_STEPS, name=IDENTITY_NAME):
    """ClusterRole, Roles and their bindings granting `steps` to `subjects` (RBAC subjects); when these
    write namespaces, the admission policy that limits those writes to namespaces labelled `labels`."""
    rules = [rule for _step, rule in step_rules(steps, mesh_namespace, gateway, options)]
    objects = []
    for scope in ("cluster", "mesh", "kube-system"):
        scoped = [rule for rule in rules if rule.scope == scope]
        if not scoped:
            continue
        namespace = namespace_of(scoped[0], mesh_namespace)
        kind = "ClusterRole" if namespace is None else "Role"
        meta = {"name": name, "labels": labels}
        if namespace:
            meta["namespace"] = namespace
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
                        "rules": _merged(scoped)})
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind + "Binding", "metadata": dict(meta),
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
                        "subjects": subjects})
    if subjects and any("namespaces" in rule.resources and {"create", "update", "patch", "delete"} & set(rule.verbs)
                        for rule in rules):
        objects += namespace_policy(subjects, labels, name)
    return objects


def _subject_matches(subject):
    """A CEL condition true for requests of one RBAC subject."""
    name = json.dumps(subject["name"])
    if subject["kind"] == "ServiceAccount":
        return "request.userInfo.username == %s" % json.dumps(
            "system:serviceaccount:%s:%s" % (subject["namespace"], subject["name"]))
    if subject["kind"] == "Group":
        return "(has(request.userInfo.groups) && %s in request.userInfo.groups)" % name
    return "request.userInfo.username == %s" % name


def _labelled(obj, labels):
    """A CEL condition true when `obj` carries every label of `labels`."""
    return " && ".join(["has(%s.metadata.labels)" % obj] + [
        "%s in %s.metadata.labels && %s.metadata.labels[%s] == %s" % (json.dumps(key), obj, obj, json.dumps(key),
                                                                      json.dumps(value))
        for key, value in sorted(labels.items())])


def namespace_policy(subjects, labels, name=IDENTITY_NAME):
    """A ValidatingAdmissionPolicy and its binding: requests of `subjects` may create a namespace only
    with `labels`, and change or delete only one that carries them. RBAC cannot grant by label; the
    API server enforces this policy on every request, whatever the subjects' roles grant."""
    policy_name = "%s-namespaces" % name
    meta = {"name": policy_name, "labels": labels}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": meta,
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["*"], "resources": ["namespaces"],
                                                    "operations": ["CREATE", "UPDATE", "DELETE"]}]},
            "matchConditions": [{"name": "operate-identity",
                                 "expression": " || ".join(_subject_matches(subject) for subject in subjects)}],
            "validations": [{
                "expression": "request.operation == 'CREATE' ? (%s) : (%s)" % (
                    _labelled("object", labels), _labelled("oldObject", labels)),
                "message": "the operate identity of meshops.multicluster may create a namespace only with, and change "
                           "or delete only a namespace with, the labels %s (docs/permissions.md)"
                           % ", ".join("%s=%s" % item for item in sorted(labels.items())),
                "reason": "Forbidden"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": dict(meta), "spec": {"policyName": policy_name, "validationActions": ["Deny"]}}
    return [policy, binding]


def _qualified(resource, group):
    """A resource as kubectl names it: serviceentries.networking.istio.io, secrets."""
    return resource + ("." + group if group else "")


def missing(step_rules_, rules_by_namespace, mesh_namespace):
    """What `rules_by_namespace` ({namespace: SelfSubjectRulesReview resourceRules}) lacks of
    step_rules(): [{"step", "verb", "resource", "namespace", "name"}], one per verb, resource and name."""
    lacking = []
    for step, rule in step_rules_:
        namespace = namespace_of(rule, mesh_namespace)
        review = rules_by_namespace[namespace or mesh_namespace]
        for resource in rule.resources:
            for verb in rule.verbs:
                for name in rule.names or (None,):
                    if not allowed(review, rule.group, resource, verb, name):
                        lacking.append({"step": step, "verb": verb, "namespace": namespace or "",
                                        "resource": _qualified(resource, rule.group),
                                        "name": name or ""})
    return lacking


def describe(item):
    """One missing permission in words: "create secrets cacerts in namespace istio-system"."""
    where = " in namespace %s" % item["namespace"] if item["namespace"] else " (cluster-wide)"
    return "%s %s%s%s" % (item["verb"], item["resource"], " " + item["name"] if item["name"] else "", where)


def summary(lacking):
    """Missing permissions grouped by step, resource, name and namespace, each with its verbs."""
    groups = {}
    for item in lacking:
        key = (item["step"], item["resource"], item["name"], item["namespace"])
        groups.setdefault(key, []).append(item["verb"])
    return ["%s: %s" % (step, describe({"verb": ", ".join(verbs), "resource": resource, "name": name,
                                        "namespace": namespace}))
            for (step, resource, name, namespace), verbs in groups.items()]


def lacking_error(cluster, user, lacking):
    """The MeshError of an identity that lacks permissions (missing()) a step needs: the message
    names them and the fix; the partial result holds them (missing) and the user."""
    steps = sorted({item["step"] for item in lacking}, key=STEPS.index)
    helm = {"control_plane", "upgrade"} & set(steps)
    fix = ("the control plane and upgrade steps install Istio with Helm: run them as a cluster administrator (the "
           "install identity)" if helm else "grant them with playbooks/rbac.yml, or run the step with an identity "
                                            "that has them")
    return MeshError("%s: %s lacks %d permission(s) that step %s need(s), checked before any write: %s. Fix: %s "
                     "(docs/permissions.md)" % (cluster, user, len(lacking), ", ".join(steps), "; ".join(summary(lacking)),
                                                fix),
                     fix=fix, partial={"missing": lacking, "user": user})


def review_namespaces(step_rules_, mesh_namespace):
    """The namespaces to ask a SelfSubjectRulesReview of (cluster-wide rules show in any of them)."""
    return sorted({namespace_of(rule, mesh_namespace) or mesh_namespace for _step, rule in step_rules_})


VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _request_words(method, kind, name):
    """(verb, group, resource) of a request on an object of a kind of KINDS, as RBAC names them."""
    group, resource = api_resource(kind)
    return VERBS.get(method) or ("get" if name else "list"), group, resource


def _names_match(names, name):
    """Whether a rule's names cover `name` ({mesh} and {gateway} stand for any name)."""
    return not names or any(candidate == name or "{" in candidate for candidate in names)


def steps_needing(group, resource, verb, name=None):
    """The steps whose rules include a verb on a resource (of that name)."""
    return [step for step in STEPS
            if any(rule.group == group and resource in rule.resources and verb in rule.verbs
                   and _names_match(rule.names, name) for rule in PERMISSIONS[step])]


def markdown_table(steps=STEPS):
    """The rules as the table of docs/permissions.md."""
    lines = ["| step | where | API group | resources | verbs | names | why |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for step in steps:
        for rule in PERMISSIONS[step]:
            where = {"cluster": "cluster-wide", "mesh": "control plane's namespace"}.get(rule.scope, rule.scope)
            if rule.option:
                where += " (option %s)" % rule.option
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                step, where, rule.group or "core", ", ".join(rule.resources), ", ".join(rule.verbs),
                ", ".join(rule.names) or "any", rule.why))
    return "\n".join(lines)


def forbidden_message(request, server_message):
    """A 403 in words: the request (a client.Request: the object it addresses, or without a kind its
    method and path), the server's reason, the steps that need it, the fix."""
    if request.kind is None:
        what, steps = "%s %s" % (request.method, request.path), []
    else:
        verb, group, resource = _request_words(request.method, request.kind, request.name)
        what = describe({"verb": verb, "resource": _qualified(resource, group), "name": request.name or "",
                         "namespace": request.namespace or ""})
        steps = steps_needing(group, resource, verb, request.name)
    needed = "needed by step %s" % ", ".join(steps) if steps else "needed by no step of the collection"
    return ("permission missing: %s (%s) - the API server said: %s. Grant the step's permissions with "
            "playbooks/rbac.yml (docs/permissions.md)" % (what, needed, server_message))


def worded(exc):
    """The message of an error for the user: a Forbidden in the words of this table (also the one that
    stopped a partial write), any other as it is."""
    first_error = getattr(exc, "first_error", None)  # reconcile.PartialWrite
    if isinstance(first_error, Forbidden):
        return worded(first_error) + exc.suffix
    return forbidden_message(exc.request, exc.server_message) if isinstance(exc, Forbidden) else str(exc)
