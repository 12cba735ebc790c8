"""The report's exports, imports and routes (flows.FleetFlows) agree with the services step's import
selection asked host by host (ImportView), for fleets with and without selections, and list no
more than their caps."""

from hypothesis import given, strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import ImportView
from ansible_collections.meshops.multicluster.plugins.module_utils._verify import flows
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.flows import FleetFlows

CLUSTERS = ["c1", "c2", "c3", "c4"]


def naive(services, views):
    """Every import of every cluster, asked of ImportView host by host (what the report showed before)."""
    imports, routes = {}, {}
    for cluster, view in views.items():
        imports[cluster] = [{"host": s["host"], "from": view.sources(s)} for s in services
                            if view.sources(s) and cluster not in s["clusters"]]
        for imported in imports[cluster]:
            for exporter in imported["from"]:
                routes.setdefault((exporter, cluster), []).append(imported["host"])
    return imports, routes


def check(services, selection):
    views = {name: ImportView(selection, name) for name in CLUSTERS}
    fleet = FleetFlows(services, views)
    imports, routes = naive(services, views)
    for cluster in CLUSTERS:
        listed, count = fleet.imports(cluster)
        assert (listed, count) == (imports[cluster][:flows.IMPORTS_LISTED], len(imports[cluster]))
        assert fleet.exports(cluster) == [s["host"][:-len(".global")] for s in services if cluster in s["clusters"]]
    assert fleet.routes(CLUSTERS) == {route: (len(hosts), hosts[:flows.ROUTE_HOSTS]) for route, hosts in routes.items()}


service = st.builds(
    lambda exporters, namespace, export_to: {"namespace": namespace, "clusters": exporters,
                                             "export_to": {exporters[0]: export_to} if export_to else None},
    st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=3, unique=True), st.sampled_from(["a", "b"]),
    st.one_of(st.none(), st.lists(st.sampled_from(CLUSTERS + ["group:east"]), min_size=1, max_size=2, unique=True)))
selection = st.fixed_dictionaries({
    "groups": st.just({"east": ["c1", "c3"]}),
    "import_from": st.dictionaries(st.sampled_from(CLUSTERS), st.fixed_dictionaries({}, optional={
        "clusters": st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=2, unique=True),
        "namespaces": st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=1)}), max_size=2)})


@given(st.lists(service, max_size=30), selection)
def test_the_summary_agrees_with_the_selection_asked_host_by_host(planned, chosen):
    services = [dict(s, host="svc%02d.%s.global" % (i, s["namespace"])) for i, s in enumerate(planned)]
    for s in services:
        if not s["export_to"]:
            del s["export_to"]
    check(services, chosen)


def test_a_full_mesh_lists_the_first_imports_and_counts_them_all():
    services = [{"host": "svc%03d.a.global" % i, "namespace": "a", "clusters": [CLUSTERS[i % 4]]} for i in range(300)]
    services[0]["clusters"] = ["c1", "c2"]  # exported from two clusters: imported from both
    check(services, {})
    fleet = FleetFlows(services, {name: ImportView({}, name) for name in CLUSTERS})
    listed, count = fleet.imports("c3")
    assert len(listed) == flows.IMPORTS_LISTED and count == 225 and listed[0] == {"host": "svc000.a.global",
                                                                                  "from": ["c1", "c2"]}
    assert fleet.routes(["c3"])[("c1", "c3")] == (75, ["svc%03d.a.global" % i for i in range(0, 40, 4)])
