# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who imports which host from whom, for the fleet report, in time and size linear in hosts plus
clusters (issue 26): a fleet of 100 clusters x 300 Services has 30,000 hosts, and listing every
import of every cluster would be 3 million rows.

By default every cluster imports every host it does not export, from all its exporters: for a
cluster without an import selection of its own (import_from) and a host without export_to, that
follows from what each cluster exports, without asking the selection host by host. Each cluster
shows its first IMPORTS_LISTED imports and their count; each route (exporter, importer) its count
and its first ROUTE_HOSTS hosts. A cluster with an import selection, and a host with export_to, are
judged one by one (selection.ImportView), as the services step plans them.
"""

from __future__ import annotations

from collections import Counter

IMPORTS_LISTED = 50   # imports listed per cluster; the count is whole
ROUTE_HOSTS = 10      # hosts named per route; the count is whole


def _selective(view):
    """Whether the cluster narrows what it imports (its import_from)."""
    return bool(view.from_clusters or view.from_namespaces)


class FleetFlows:
    """The exports, imports and routes of the clusters of `views` ({cluster: ImportView}) under the
    plan's `services` (sorted by host)."""

    def __init__(self, services, views):
        self.services, self.views = services, views
        self.exported = {}     # cluster -> indices of the services it exports
        self.open_by = {}      # exporter -> indices of the services without export_to it exports
        self.restricted = []   # indices of the services with export_to
        self.both = Counter()  # (exporter, cluster) -> services without export_to both export
        for index, service in enumerate(services):
            exporters = service["clusters"]
            for exporter in exporters:
                self.exported.setdefault(exporter, []).append(index)
            if service.get("export_to"):
                self.restricted.append(index)
                continue
            for exporter in exporters:
                self.open_by.setdefault(exporter, []).append(index)
                self.both.update((exporter, other) for other in exporters if other != exporter)
        self.open_count = len(services) - len(self.restricted)

    def exports(self, cluster):
        """The hosts the cluster exports, as <name>.<namespace>."""
        return [self.services[index]["host"][:-len(".global")] for index in self.exported.get(cluster, ())]

    def sources(self, cluster, index):
        """The exporters of service `index` whose endpoints the cluster holds (ImportView.sources)."""
        service = self.services[index]
        if not service.get("export_to") and not _selective(self.views[cluster]):
            return service["clusters"]
        return self.views[cluster].sources(service)

    def _imported(self, cluster, indices):
        """(index, sources) of the services of `indices` the cluster imports without exporting them."""
        for index in indices:
            if cluster not in self.services[index]["clusters"]:
                sources = self.sources(cluster, index)
                if sources:
                    yield index, sources

    def imports(self, cluster):
        """(its first IMPORTS_LISTED imports, each {host, from}; how many hosts it imports)."""
        listed = []
        for index, sources in self._imported(cluster, range(len(self.services))):
            if len(listed) == IMPORTS_LISTED:
                break
            listed.append({"host": self.services[index]["host"], "from": sources})
        if _selective(self.views[cluster]):
            count = sum(1 for _imported in self._imported(cluster, range(len(self.services))))
        else:
            own_open = sum(1 for index in self.exported.get(cluster, ()) if not self.services[index].get("export_to"))
            count = self.open_count - own_open + sum(1 for _imported in self._imported(cluster, self.restricted))
        return listed, count

    def routes(self, clusters):
        """{(exporter, importer): (count, first ROUTE_HOSTS hosts)} into each of `clusters`."""
        found = {}

        def add(exporter, cluster, count, indices):
            if count:
                before = found.get((exporter, cluster), (0, []))
                found[exporter, cluster] = (before[0] + count, sorted(before[1] + list(indices))[:ROUTE_HOSTS])

        for cluster in clusters:
            if _selective(self.views[cluster]):
                everything = self._imported(cluster, range(len(self.services)))
                per_exporter = {}
                for index, sources in everything:
                    for exporter in sources:
                        per_exporter.setdefault(exporter, []).append(index)
                for exporter, indices in per_exporter.items():
                    add(exporter, cluster, len(indices), indices[:ROUTE_HOSTS])
                continue
            for exporter, indices in self.open_by.items():
                if exporter != cluster:
                    first = [index for index in indices[:ROUTE_HOSTS + self.both[exporter, cluster]]
                             if cluster not in self.services[index]["clusters"]][:ROUTE_HOSTS]
                    add(exporter, cluster, len(indices) - self.both[exporter, cluster], first)
            for index, sources in self._imported(cluster, self.restricted):
                for exporter in sources:
                    add(exporter, cluster, 1, [index])
        return {route: (count, [self.services[index]["host"] for index in indices])
                for route, (count, indices) in found.items()}
