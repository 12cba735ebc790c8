# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the whole fleet's inventory, run before any cluster is touched, and of who each
cluster is: its API server's word (the kube-system namespace's uid), not the inventory's."""

from __future__ import annotations

import hashlib
import json

from ansible_collections.meshops.multicluster.plugins.module_utils._access.permissions import worded
from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import label_error
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import revision_problem
from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.versions import server_version

# Values that must be the same in every cluster of one mesh (or are set per cluster by the
# collection itself): an override of one of them on one cluster splits the mesh.
PROTECTED_VALUES = (
    ("global", "meshID"),
    ("global", "multiCluster", "clusterName"),
    ("global", "network"),
    ("meshConfig", "trustDomain"),
)


# The namespace whose uid names a cluster, as Istio and Submariner name one: it is created with the
# cluster and never deleted.
IDENTITY_NAMESPACE = "kube-system"


class FleetError(MeshError, ValueError):
    pass


def _lookup(values, path):
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


def identity(chart_version, shared_values):
    """Fingerprint of what must be identical across the fleet's control planes."""
    canonical = json.dumps({"chart_version": chart_version, "values": shared_values}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# The revision tags of the stable/canary pair (mesh_istio_tags); the `default` tag always exists.
TAG_ROLES = ("stable", "canary")


def tag_problems(tags):
    """What is wrong with mesh_istio_tags: {stable: <tag name>, canary: <tag name>}."""
    if not isinstance(tags, dict) or sorted(tags) != sorted(TAG_ROLES):
        return ["mesh_istio_tags=%r: expected a dict with exactly the keys stable and canary, each naming a "
                "revision tag" % (tags,)]
    problems = ["mesh_istio_tags.%s=%r: %s" % (role, tags[role], revision_problem(tags[role]))
                for role in TAG_ROLES if revision_problem(tags[role])]
    if not problems and tags["stable"] == tags["canary"]:
        problems.append("mesh_istio_tags names %r for both stable and canary: expected two different tag names"
                        % tags["stable"])
    return problems


def check_fleet(clusters):
    """clusters: dicts with host, name, network, mesh_id, trust_domain, chart_version, revision, tags,
    shared_values, values_override, istio_namespace, gateway_name. Returns a summary; raises
    FleetError listing every problem."""
    problems = []
    if not clusters:
        raise FleetError("the inventory has no clusters: add hosts to the group mesh_clusters")
    seen = {}
    for c in clusters:
        host = c["host"]
        for field, var in (("name", "mesh_cluster_name"), ("network", "mesh_network"),
                           ("istio_namespace", "mesh_istio_namespace"), ("gateway_name", "mesh_istio_gateway_name")):
            why = label_error(c.get(field))
            if why:
                problems.append("%s: %s=%r %s (a DNS-1123 label is expected)" % (host, var, c.get(field), why))
        why = revision_problem(c.get("revision"))
        if why:
            problems.append("%s: mesh_istio_revision=%r: %s" % (host, c.get("revision"), why))
        problems.extend("%s: %s" % (host, problem) for problem in tag_problems(c.get("tags")))
        if c.get("name") in seen:
            problems.append("%s: mesh_cluster_name=%r is also the name of %s: cluster names must be unique "
                            "across the fleet" % (host, c["name"], seen[c["name"]]))
        seen.setdefault(c.get("name"), host)
        for path in PROTECTED_VALUES:
            if _lookup(c.get("values_override") or {}, path) is not None:
                problems.append("%s: mesh_istio_values_override sets %s, which must be identical in every "
                                "cluster (or is set by the collection): set it fleet-wide instead "
                                "(mesh_id, mesh_trust_domain, mesh_cluster_name, mesh_network)"
                                % (host, ".".join(path)))
    for field, var in (("mesh_id", "mesh_id"), ("trust_domain", "mesh_trust_domain"), ("revision", "mesh_istio_revision"),
                       ("istio_namespace", "mesh_istio_namespace"), ("gateway_name", "mesh_istio_gateway_name")):
        values = {}
        for c in clusters:
            values.setdefault(c.get(field), []).append(c["host"])
        if len(values) > 1:
            detail = "; ".join("%r on %s" % (v, ", ".join(hosts)) for v, hosts in sorted(values.items(), key=str))
            problems.append("%s differs between clusters (%s): one mesh needs one %s" % (var, detail, var))
    if problems:
        raise FleetError("the inventory has %d problem(s):\n- %s" % (len(problems), "\n- ".join(problems)))

    identities = {}
    for c in clusters:
        identities.setdefault(identity(c.get("chart_version"), c.get("shared_values") or {}), []).append(c["name"])
    return {
        "clusters": [c["name"] for c in clusters],
        "identical_control_planes": len(identities) == 1,
        "control_plane_identities": identities,
    }


def check_single_api_server(hosts, environ):
    """K8S_AUTH_HOST overrides every host's kubeconfig: with more than one host the whole play would
    talk to one API server. FleetError then."""
    server = environ.get("K8S_AUTH_HOST")
    if server and len(hosts) > 1:
        raise FleetError("K8S_AUTH_HOST=%s is set: every host of the play (%s) would talk to that one API server. "
                         "Unset it and give each host its own mesh_kubeconfig / mesh_context (an AWX Kubernetes "
                         "credential reaches one cluster: use a kubeconfig credential for a fleet)"
                         % (server, ", ".join(hosts)))


def cluster_uid(client):
    """The uid of the cluster's kube-system namespace: who the API server says the cluster is."""
    namespace = client.get("Namespace", IDENTITY_NAMESPACE) or {}
    uid = (namespace.get("metadata") or {}).get("uid")
    if not uid or not isinstance(uid, str):
        raise FleetError("the API server at %s has no namespace %s with a uid: is it a Kubernetes API server?"
                         % (client.host, IDENTITY_NAMESPACE))
    return uid


def read_clusters(connections, client_for):
    """({host: kube-system uid}, {host: Kubernetes version or None}, {host: why it could not be read})
    of each connection ({host, kubeconfig, context}), asking each API server with one client of
    client_for(connection). A cluster that cannot be read now cannot be written either: the caller
    fails that host alone. Its version only informs a warning: an unreadable one is None."""
    uids, versions, unidentified = {}, {}, {}
    for connection in connections:
        try:
            client = client_for(connection)
            uids[connection["host"]] = cluster_uid(client)
        except MeshError as exc:
            unidentified[connection["host"]] = "%s: cannot read who the cluster is (namespace %s), nothing was " \
                "written to it: %s" % (connection["host"], IDENTITY_NAMESPACE, worded(exc))
            continue
        try:
            versions[connection["host"]] = server_version(client)
        except MeshError:
            versions[connection["host"]] = None
    return uids, versions, unidentified


def check_identities(uids):
    """uids: {inventory host: kube-system uid}. FleetError naming every set of hosts that are one cluster."""
    hosts_of = {}
    for host, uid in uids.items():
        hosts_of.setdefault(uid, []).append(host)
    problems = ["%s are the same cluster (namespace %s has uid %s in each): one cluster must be one host of "
                "mesh_clusters; remove the copies, or point each host at its own cluster (mesh_kubeconfig / "
                "mesh_context)" % (" and ".join(hosts), IDENTITY_NAMESPACE, uid)
                for uid, hosts in hosts_of.items() if len(hosts) > 1]
    if problems:
        raise FleetError("the inventory names one cluster more than once (nothing was written):\n- %s"
                         % "\n- ".join(problems))
