"""Stable VIP allocation: range checks, allocation, stores merged across clusters."""

import ipaddress

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import (
    AllocationError, allocate, merge_stores, parse_range, plan_stores, store_configmap, store_digest, store_from_configmap,
    store_matches, store_summary, stores_to_read)

RANGE = "240.10.0.0/24"


def store(allocations, generation, resource_version="1"):
    return {"allocations": dict(allocations), "generation": generation, "resource_version": resource_version,
            "digest": store_digest(allocations)}


@pytest.mark.parametrize("cidr, message", [
    ("10.0.0.0/8", "outside 240.0.0.0/4"),
    ("224.0.0.0/4", "outside 240.0.0.0/4"),
    ("240.0.0.0/8", "overlaps 240.240.0.0/16"),
    ("240.240.7.0/24", "overlaps 240.240.0.0/16"),
    ("240.10.0.1/24", "not a network"),
    ("not-a-range", "not a network"),
    ("fd00::/8", "outside 240.0.0.0/4"),
])
def test_bad_ranges_are_refused_with_the_reason(cidr, message):
    with pytest.raises(AllocationError, match=message):
        parse_range(cidr)


def test_good_range():
    assert parse_range("240.0.10.0/24") == ipaddress.ip_network("240.0.10.0/24")


def test_new_hosts_get_the_lowest_free_addresses_in_name_order():
    assert allocate({}, ["b.x.global", "a.x.global"], parse_range(RANGE)) == {
        "a.x.global": "240.10.0.1", "b.x.global": "240.10.0.2"}


def test_existing_vips_are_kept_and_freed_ones_reused():
    current = {"a.x.global": "240.10.0.1", "b.x.global": "240.10.0.2", "c.x.global": "240.10.0.3"}
    result = allocate(current, ["a.x.global", "c.x.global", "new.x.global"], parse_range(RANGE))
    assert result == {"a.x.global": "240.10.0.1", "c.x.global": "240.10.0.3", "new.x.global": "240.10.0.2"}


def test_hosts_outside_a_changed_range_are_allocated_again():
    result = allocate({"a.x.global": "240.9.0.7", "b.x.global": "240.10.0.9"}, ["a.x.global", "b.x.global"],
                      parse_range(RANGE))
    assert result == {"a.x.global": "240.10.0.1", "b.x.global": "240.10.0.9"}


def test_a_range_too_small_for_the_hosts_fails():
    with pytest.raises(AllocationError, match="has 2 addresses but 3 hosts"):
        allocate({}, ["a", "b", "c"], parse_range("240.10.0.0/30"))
    assert allocate({}, ["a", "b"], parse_range("240.10.0.0/31")) == {"a": "240.10.0.0", "b": "240.10.0.1"}


def test_allocation_never_shares_a_vip():
    hosts = ["h%03d.ns.global" % i for i in range(600)]
    result = allocate({"h000.ns.global": "240.10.1.5", "h001.ns.global": "240.10.1.5"}, hosts,
                      parse_range("240.10.0.0/16"))
    assert len(set(result.values())) == 600
    assert result["h000.ns.global"] == "240.10.1.5"


def test_highest_generation_wins_and_stale_stores_are_ignored():
    merged, generation, warnings = merge_stores({
        "a": store({"x.n.global": "240.10.0.1"}, 7),
        "b": store({"x.n.global": "240.10.0.1"}, 7),
        "c": store({"x.n.global": "240.10.0.5", "old.n.global": "240.10.0.1"}, 3),
        "d": None,
    })
    assert (merged, generation, warnings) == ({"x.n.global": "240.10.0.1"}, 7, [])


def test_stores_of_two_concurrent_partial_runs_are_merged_without_sharing_a_vip():
    merged, generation, warnings = merge_stores({
        "a": store({"keep.n.global": "240.10.0.1", "one.n.global": "240.10.0.2"}, 4),
        "b": store({"keep.n.global": "240.10.0.1", "two.n.global": "240.10.0.2"}, 4),
    })
    assert merged == {"keep.n.global": "240.10.0.1"}
    assert generation == 4
    assert "one.n.global, two.n.global" in warnings[0]


def test_no_store_anywhere():
    assert merge_stores({"a": None, "b": store({}, 0)}) == ({}, 0, [])


def test_plan_stores_noop_keeps_generation_and_preconditions():
    allocations = {"a.n.global": "240.10.0.1"}
    stores = {"c1": store(allocations, 2, "11"), "c2": store(allocations, 2, "22")}
    result, generation, versions, _warnings = plan_stores(stores, ["a.n.global"], RANGE)
    assert (result, generation, versions) == (allocations, 2, {"c1": "11", "c2": "22"})


def test_plan_stores_bumps_generation_on_change_and_rewrites_stale_clusters():
    stores = {"c1": store({"a.n.global": "240.10.0.1"}, 2, "11"), "c2": store({}, 0, ""),
              "c3": store({"gone.n.global": "240.10.0.1"}, 1, "33")}
    result, generation, versions, _warnings = plan_stores(stores, ["a.n.global", "b.n.global"], RANGE)
    assert result == {"a.n.global": "240.10.0.1", "b.n.global": "240.10.0.2"}
    assert generation == 3
    assert versions == {"c1": "11", "c2": "", "c3": "33"}


def test_plan_stores_from_nothing():
    assert plan_stores({"c1": None}, [], RANGE)[:2] == ({}, 0)
    assert plan_stores({"c1": None}, ["a.n.global"], RANGE)[:2] == ({"a.n.global": "240.10.0.1"}, 1)


def test_last_host_removed_empties_the_store():
    assert plan_stores({"c1": store({"a.n.global": "240.10.0.1"}, 5)}, [], RANGE)[:2] == ({}, 6)


def test_store_configmap_round_trip():
    planned = store({"a.n.global": "240.10.0.1"}, 4, "")
    configmap = store_configmap(planned)
    assert configmap["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshops.multicluster"
    configmap["metadata"]["resourceVersion"] = "99"
    assert store_from_configmap(configmap) == store({"a.n.global": "240.10.0.1"}, 4, "99")
    assert store_matches(configmap, planned)
    assert not store_matches(configmap, store({}, 5))
    assert store_matches(None, store({}, 0))
    assert store_from_configmap(None) == store({}, 0, "")


def test_many_copies_of_one_store_and_a_disagreeing_one():
    same = {"keep.n.global": "240.10.0.1", "one.n.global": "240.10.0.2"}
    merged, generation, warnings = merge_stores({
        **{"c%d" % i: store(dict(same), 4) for i in range(5)},
        "d": store({"keep.n.global": "240.10.0.1", "two.n.global": "240.10.0.2"}, 4),
    })
    assert merged == {"keep.n.global": "240.10.0.1"} and generation == 4
    assert "(clusters c0, c1, c2, c3, c4, d)" in warnings[0] and "one.n.global, two.n.global" in warnings[0]


def test_copies_are_compared_by_fingerprint_and_merged_from_one_full_copy_each():
    same, other = {"keep.n.global": "240.10.0.1"}, {"keep.n.global": "240.10.0.1", "new.n.global": "240.10.0.2"}
    stores = {"c%d" % i: store_summary(store(same, 4, str(i))) for i in range(50)}
    assert stores_to_read(stores) == ["c0"]
    stores["c0"] = store(same, 4, "0")
    assert stores_to_read(stores) == []
    stores["c7"] = store_summary(store(other, 4, "7"))
    stores["c8"] = store_summary(store({"x.n.global": "240.10.0.9"}, 3, "8"))  # older generation: never read
    assert stores_to_read(stores) == ["c7"]
    assert merge_stores(stores, [store(other, 4, "7")]) == (other, 4, [])
    assert plan_stores(stores, list(other), RANGE, contents=[store(other, 4, "7")])[:2] == (other, 5)
    with pytest.raises(AllocationError, match=r"cluster\(s\) c7 changed while this run read it"):
        merge_stores(stores, [store(dict(other, more="240.10.0.3"), 4, "9")])


def test_the_fingerprint_depends_on_the_allocations_only():
    assert store_digest({"a": "1", "b": "2"}) == store_digest({"b": "2", "a": "1"}) != store_digest({"a": "1"})
    assert store_from_configmap(None)["digest"] == store_digest({})
