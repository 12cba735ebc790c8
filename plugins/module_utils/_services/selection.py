# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import selection: which clusters hold a ServiceEntry for which exported host.

By default every cluster imports every exported host. The exporting side narrows it per Service
with the annotation `multicluster.meshops.io/export-to: "cluster2,group:eu"` (cluster names and
inventory groups of the mesh's clusters); the importing side per cluster with the host_vars
mesh_services_import_from_clusters and mesh_services_import_from_namespaces. A cluster that exports
a host always holds its own entry for it. Pure functions: no cluster access, no Ansible.

The annotation is tenant input: a malformed one holds back only its Service (the fleet plan keeps
that host's entries as they are), and a name that is not (or no longer) a cluster or group of the
inventory is left out with a warning. The host_vars are inventory input: a bad one fails the plan.
"""

from __future__ import annotations

import re

from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import label_error
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_TO_ANNOTATION
from ansible_collections.meshops.multicluster.plugins.module_utils._services.shapes import (
    ClusterInput, ImportFrom, PlannedService, Selection)

GROUP_PREFIX = "group:"
# Inventory group names as Ansible keeps them: letters, digits, '_' (and '-', '.', which it warns about).
GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Only plain spaces around an item are layout; any other whitespace or control character is refused
# (a trailing newline must not pass as part of a name, whatever the name validators accept).
UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
SYNTAX = "expected a comma-separated list of cluster names and group:<inventory group>, e.g. \"cluster2,group:eu\""


def _malformed(item):
    """Why one item of an export-to annotation is neither a cluster name nor group:<name>, or None."""
    if not item:
        return "is empty"
    if item.startswith(GROUP_PREFIX):
        return None if GROUP_NAME.fullmatch(item[len(GROUP_PREFIX):]) else \
            "is not group:<inventory group> (letters, digits, '_', '-', '.')"
    why = "holds whitespace or a character outside printable ASCII" if UNPRINTABLE.search(item) else label_error(item)
    return "is not a cluster name: it %s" % why if why else None


def parse_export_to(value):
    """The selectors of an export-to annotation value (cluster names and group:<name>, in order,
    without repeats) and why its malformed items are (a list). Never raises: any text is judged."""
    selectors, problems = [], []
    for position, raw in enumerate(str(value).split(","), 1):
        item = raw.strip(" ")
        why = _malformed(item)
        if why:
            problems.append("item %d %r %s; %s" % (position, item, why, SYNTAX))
        elif item not in selectors:
            selectors.append(item)
    return selectors, problems


def _is_known(selector, clusters, groups):
    if selector.startswith(GROUP_PREFIX):
        return selector[len(GROUP_PREFIX):] in groups
    return selector in clusters


def _unknown(selector, clusters, groups):
    """Why a well-formed selector names nothing of the inventory."""
    if selector.startswith(GROUP_PREFIX):
        return "group %r is not an inventory group of the mesh's clusters; expected one of %s" \
            % (selector[len(GROUP_PREFIX):], ", ".join(sorted(groups)) or "(none)")
    return "cluster %r is not a cluster of the mesh; expected one of %s" % (selector, ", ".join(sorted(clusters)))


def check_export_to(what, value, clusters, groups):
    """The selectors of one exported Service's export-to annotation, its problems and warnings.

    what: "cluster <name>: Service <namespace>/<name>"; clusters: names of the mesh's clusters
    (read or not); groups: {group: [clusters]}. Returns (selectors, problems, warnings), each
    message naming the Service, the value and what is expected. problems: the value is malformed
    (the Service is held back). warnings: names that are not a cluster or group of the inventory
    (a cluster removed from it, a typo): they are left out of the selectors, the rest applies - a
    Service is never exported to more clusters than its annotation names.
    """
    selectors, malformed = parse_export_to(value)
    known = [selector for selector in selectors if _is_known(selector, clusters, groups)]
    unknown = [_unknown(selector, clusters, groups) for selector in selectors if selector not in known]

    def name(messages):
        return ["%s: annotation %s=%r: %s" % (what, EXPORT_TO_ANNOTATION, value, why) for why in messages]
    return known, name(malformed), name(["%s: left out, the rest applies" % why for why in unknown])


def check_import_from(cluster: ClusterInput, clusters) -> tuple[ImportFrom | None, list[str]]:
    """What one cluster imports (its mesh_services_import_from_* host_vars) and the problems.

    cluster: {"name", "import_from_clusters", "import_from_namespaces"}; clusters: names of the
    mesh's clusters. Returns ({"clusters", "namespaces"}, each only when it restricts; None when
    the cluster imports everything) and the problems.
    """
    what = "cluster %s: " % cluster.get("name")
    from_clusters = list(cluster.get("import_from_clusters") or [])
    from_namespaces = list(cluster.get("import_from_namespaces") or [])
    problems = [what + "mesh_services_import_from_clusters names %r, which is not a cluster of the mesh; expected "
                "names among %s" % (name, ", ".join(sorted(clusters)))
                for name in from_clusters if name not in clusters]
    problems += [what + "mesh_services_import_from_namespaces entry %r %s; expected namespace names (DNS-1123 labels)"
                 % (namespace, label_error(namespace)) for namespace in from_namespaces if label_error(namespace)]
    wanted = {key: sorted(set(names)) for key, names in (("clusters", from_clusters), ("namespaces", from_namespaces))
              if names}
    return wanted or None, problems


def group_members(cluster_groups):
    """{group: sorted cluster names} from {cluster: its inventory groups (group_names)}."""
    members = {}
    for cluster, groups in sorted((cluster_groups or {}).items()):
        for group in groups or []:
            members.setdefault(group, []).append(cluster)
    return members


def referenced_groups(services, groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """The groups that export-to annotations of the planned services name, with their members:
    all the plan carries of the inventory's groups."""
    named = {selector[len(GROUP_PREFIX):] for service in services
             for selectors in (service.get("export_to") or {}).values()
             for selector in selectors if selector.startswith(GROUP_PREFIX)}
    return {group: groups[group] for group in sorted(named) if group in groups}


class ImportView:
    """What one cluster imports under a plan's selection (shapes.Selection; both keys optional:
    empty, everything)."""

    def __init__(self, selection: Selection | None, cluster: str):
        selection = selection or {}
        self.cluster = cluster
        # The export-to selectors that name this cluster: its own name and its groups.
        self.named_by = {cluster} | {GROUP_PREFIX + group for group, members in (selection.get("groups") or {}).items()
                                     if cluster in members}
        wanted = (selection.get("import_from") or {}).get(cluster) or {}
        self.from_clusters = set(wanted.get("clusters") or ())
        self.from_namespaces = set(wanted.get("namespaces") or ())

    def _imports(self, service: PlannedService, exporter: str):
        selectors = (service.get("export_to") or {}).get(exporter)
        return (selectors is None or not self.named_by.isdisjoint(selectors)) \
            and (not self.from_clusters or exporter in self.from_clusters) \
            and (not self.from_namespaces or service["namespace"] in self.from_namespaces)

    def sources(self, service: PlannedService) -> list[str]:
        """The exporting clusters of a planned service whose endpoints this cluster holds, in the
        plan's order: itself when it exports the service (always), and every other exporter that
        exports it here and that this cluster imports from. Empty: no entry for the service here."""
        return [exporter for exporter in service["clusters"]
                if exporter == self.cluster or self._imports(service, exporter)]
