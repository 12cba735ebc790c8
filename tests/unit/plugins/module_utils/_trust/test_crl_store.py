"""plugins/module_utils/_trust/crl_store.py: the fleet's ca-crl.pem and the record on the controller."""

import json

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import crl, pki
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.crl_store import ensure_fleet_crl
from tests.unit.trust_certs import root_without_crl_sign


@pytest.fixture
def root_dir(tmp_path):
    root = pki.generate_root("ec")
    (tmp_path / "root-cert.pem").write_text(root.cert_pem)
    (tmp_path / "root-key.pem").write_bytes(pki.key_pem(root.key))
    return tmp_path, root


def cluster(root, name):
    """What ca_intermediate with revocation returns for a cluster: its intermediate and CRL."""
    data = pki.issue_intermediate(root, name, "ec")
    cert = pki.load_certs(("c", "c", data[pki.CA_CERT].encode()))[0]
    key = pki.load_key(("k", "k", data[pki.CA_KEY].encode()))
    return {"cluster_name": name, "intermediate_cert": data[pki.CA_CERT],
            "crls": [crl.crls_pem([crl.sign_crl(cert, key, {}, 30)])]}, cert


def params(path, intermediates, inventory, **kw):
    return dict({"path": str(path), "root_cert": str(path / "root-cert.pem"), "root_key": str(path / "root-key.pem"),
                 "root_passphrase": None, "intermediates": intermediates, "inventory_clusters": inventory,
                 "revoked": [], "revoke_departed": False, "crl_days": 30, "crl_renew_before_days": 10,
                 "revoke_superseded": False, "revoke_superseded_after_hours": 24, "other_roots": [],
                 "promote": False}, **kw)


def test_fleet_crl_then_nothing_then_a_departed_cluster_revoked(root_dir):
    path, root = root_dir
    (east, east_cert), (west, west_cert) = cluster(root, "east"), cluster(root, "west")
    first, diff = ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    assert first["changed"] and (path / "ca-crl.pem").read_text() == first["crl"]
    assert [item["issuer"] for item in first["crls"]] == [
        "CN=Root CA,O=Istio", "L=east,CN=Intermediate CA,O=Istio", "L=west,CN=Intermediate CA,O=Istio"]
    assert diff["before"] == {"revoked": [], "superseded": [], "crls": []} and "PRIVATE" not in json.dumps(first)
    record = json.loads((path / "intermediates.json").read_text())
    assert record["clusters"]["west"]["serial"] == format(west_cert.serial_number, "x")
    second, _diff = ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    assert not second["changed"] and second["crl"] == first["crl"]
    # west leaves the inventory: recorded, reported, its CRL kept until revoked
    kept, _diff = ensure_fleet_crl(params(path, [east], ["east"]), False)
    assert kept["departed"] == ["west"] and not kept["changed"] and kept["crl"] == first["crl"]
    revoked, diff = ensure_fleet_crl(params(path, [east], ["east"], revoke_departed=True), True)
    assert revoked["changed"] and (path / "ca-crl.pem").read_text() == first["crl"]  # check mode writes nothing
    revoked, diff = ensure_fleet_crl(params(path, [east], ["east"], revoke_departed=True), False)
    serial = format(west_cert.serial_number, "x")
    assert [entry["serial"] for entry in revoked["revoked"]] == [serial] and revoked["departed"] == []
    assert [item["issuer"] for item in revoked["crls"]] == ["CN=Root CA,O=Istio", "L=east,CN=Intermediate CA,O=Istio"]
    assert revoked["crls"][0]["revoked"] == [serial] and diff["after"]["revoked"] == [serial]
    again, _diff = ensure_fleet_crl(params(path, [east], ["east"], revoke_departed=True), False)
    assert not again["changed"] and again["crl"] == revoked["crl"]


def test_a_cluster_outside_this_run_keeps_its_crl(root_dir):
    path, root = root_dir
    (east, _east_cert), (west, _west_cert) = cluster(root, "east"), cluster(root, "west")
    first, _diff = ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    canary, _diff = ensure_fleet_crl(params(path, [east], ["east", "west"]), False)
    assert canary["crl"] == first["crl"] and canary["departed"] == []


def test_a_root_without_crl_sign_is_refused(tmp_path):
    old = root_without_crl_sign()
    (tmp_path / "root-cert.pem").write_text(old.cert_pem)
    (tmp_path / "root-key.pem").write_bytes(pki.key_pem(old.key))
    with pytest.raises(pki.PkiError) as info:
        ensure_fleet_crl(params(tmp_path, [], []), False)
    assert "lacks keyUsage cRLSign" in str(info.value) and "revocation is unavailable" in str(info.value)


def test_bad_intermediates_are_named(root_dir):
    path, _root = root_dir
    with pytest.raises(pki.PkiError) as info:
        ensure_fleet_crl(params(path, [{"cluster_name": "east"}], ["east"]), False)
    assert "intermediates[0] ['cluster_name'] lacks cluster_name or intermediate_cert" in str(info.value)


def test_a_rejoining_cluster_keeps_its_revoked_intermediate_s_crl_until_promoted(root_dir):
    """istiod takes no ca-crl.pem without a CRL of each CA of its chain: the file that lists the rejoining
    cluster's revoked intermediate must still carry that intermediate's own CRL, or the promotion never lands."""
    path, root = root_dir
    (east, _east_cert), (west, west_cert) = cluster(root, "east"), cluster(root, "west")
    ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    revoked, _diff = ensure_fleet_crl(params(path, [east], ["east"], revoke_departed=True), False)
    assert "L=west,CN=Intermediate CA,O=Istio" not in [item["issuer"] for item in revoked["crls"]]
    rejoined, _diff = ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    issuers = [item["issuer"] for item in rejoined["crls"]]
    assert issuers.count("L=west,CN=Intermediate CA,O=Istio") == 1
    assert rejoined["crls"][0]["revoked"] == [format(west_cert.serial_number, "x")]


def test_revoke_superseded_after_the_rotation_s_workloads_moved(root_dir):
    path, root = root_dir
    (east, east_cert), (west, _west_cert) = cluster(root, "east"), cluster(root, "west")
    ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    (new_east, _new_cert) = cluster(root, "east")
    # the rotation's run: the new intermediate staged, the old one still in cacerts (both CRLs), promoted
    staged = dict(new_east, crls=east["crls"] + new_east["crls"], staged=True)
    rotated, _diff = ensure_fleet_crl(params(path, [staged, west], ["east", "west"], revoke_superseded=True,
                                             revoke_superseded_after_hours=0, promote=True), False)
    serial = format(east_cert.serial_number, "x")
    assert [item["serial"] for item in rotated["superseded"]] == [serial] and rotated["revoked"] == []
    assert rotated["superseded"][0]["moved_at"]
    # within the wait nothing is revoked, nothing changes, and the old CRL stays for its workloads
    kept, _diff = ensure_fleet_crl(params(path, [new_east, west], ["east", "west"], revoke_superseded=True), False)
    assert not kept["changed"] and kept["crl"] == rotated["crl"]
    revoked, diff = ensure_fleet_crl(params(path, [new_east, west], ["east", "west"], revoke_superseded=True,
                                            revoke_superseded_after_hours=0), False)
    assert [item["serial"] for item in revoked["revoked"]] == [serial] and revoked["superseded"] == []
    assert revoked["crls"][0]["revoked"] == [serial] and diff["after"]["superseded"] == []
    assert sum(item["issuer"] == "L=east,CN=Intermediate CA,O=Istio" for item in revoked["crls"]) == 1


def test_both_roots_of_a_rotation_sign_the_same_list(root_dir):
    path, old = root_dir
    (east, east_cert), (west, _west_cert) = cluster(old, "east"), cluster(old, "west")
    ensure_fleet_crl(params(path, [east, west], ["east", "west"]), False)
    ensure_fleet_crl(params(path, [east], ["east"], revoke_departed=True), False)
    # switch-root: the new root signs, the old one waits in previous/
    new = pki.generate_root("ec")
    (path / "previous").mkdir()
    for name in ("root-cert.pem", "root-key.pem"):
        (path / "previous" / name).write_bytes((path / name).read_bytes())
    (path / "root-cert.pem").write_text(new.cert_pem)
    (path / "root-key.pem").write_bytes(pki.key_pem(new.key))
    (new_east, new_east_cert) = cluster(new, "east")
    args = params(path, [dict(new_east, crls=east["crls"] + new_east["crls"], staged=True)], ["east"],
                  other_roots=[str(path / "previous")])
    switched, _diff = ensure_fleet_crl(args, False)
    roots = [item for item in switched["crls"] if item["issuer"] == "CN=Root CA,O=Istio"]
    assert len(roots) == 2 and roots[0]["revoked"] == roots[1]["revoked"] != []
    chain_text = crl.load_crls("t", switched["crl"])
    assert crl.inspect_crl(switched["crl"], [east_cert, old.cert]) == {}  # a chain to the old root
    assert crl.inspect_crl(switched["crl"], [new_east_cert, new.cert]) == {}  # and to the new one
    assert len(chain_text) == 4  # two roots, the old and the new intermediate of east
    again, _diff = ensure_fleet_crl(args, False)
    assert not again["changed"]


def test_a_root_certified_again_shares_its_twin_s_crl(root_dir):
    path, root = root_dir
    (east, _east_cert) = cluster(root, "east")
    twin = pki.recertify_root(root, 365)
    (path / "next").mkdir()
    (path / "next" / "root-cert.pem").write_text(twin.cert_pem)
    (path / "next" / "root-key.pem").write_bytes(pki.key_pem(twin.key))
    result, _diff = ensure_fleet_crl(params(path, [east], ["east"], other_roots=[str(path / "next")]), False)
    assert [item["issuer"] for item in result["crls"]] == ["CN=Root CA,O=Istio", "L=east,CN=Intermediate CA,O=Istio"]


def test_another_root_without_its_files_is_named(root_dir):
    path, root = root_dir
    (east, _east_cert) = cluster(root, "east")
    with pytest.raises(pki.PkiError) as info:
        ensure_fleet_crl(params(path, [east], ["east"], other_roots=[str(path / "previous")]), False)
    assert "other_roots[0]" in str(info.value) and not (path / "ca-crl.pem").exists()
