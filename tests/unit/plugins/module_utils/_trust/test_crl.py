"""plugins/module_utils/_trust/crl.py: the fleet's ca-crl.pem, its record of intermediates, its check."""

import base64
import datetime
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings, strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import crl, pki
from tests.unit.trust_certs import intermediate_without_crl_sign, root_without_crl_sign

NOW = pki.utcnow()
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def root():
    return pki.generate_root("ec")


def intermediate(root, cluster):
    """(cert, key) of a fresh intermediate for cluster."""
    data = pki.issue_intermediate(root, cluster, "ec")
    return (pki.load_certs((pki.CA_CERT, pki.CA_CERT, data[pki.CA_CERT].encode()))[0],
            pki.load_key((pki.CA_KEY, pki.CA_KEY, data[pki.CA_KEY].encode())))


@pytest.fixture(scope="module")
def east(root):
    return intermediate(root, "east")


@pytest.fixture(scope="module")
def west(root):
    return intermediate(root, "west")


def leaf(issuer_cert, issuer_key):
    """A workload-like certificate signed by an intermediate."""
    key = pki.generate_key("ec")
    return (x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(issuer_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(NOW + DAY)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(
                "spiffe://cluster.local/ns/default/sa/default")]), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def openssl_verify(tmp_path, roots, chain, cert, crl_text):
    """`openssl verify -crl_check_all` as the proxies check a peer (without a CRL file, crl_text
    None, as a proxy without one): (ok, output). roots: a certificate, or the bundle in order."""
    files = {"root.pem": pki.certs_pem(roots if isinstance(roots, list) else [roots]),
             "chain.pem": pki.certs_pem(chain), "leaf.pem": pki.certs_pem([cert]), "crl.pem": crl_text or ""}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    crl_check = ["-crl_check_all", "-CRLfile", "crl.pem"] if crl_text is not None else []
    proc = subprocess.run(["/usr/bin/openssl", "verify", *crl_check, "-CAfile", "root.pem", "-untrusted",
                           "chain.pem", "leaf.pem"], cwd=tmp_path, capture_output=True, text=True, check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr


def fleet(root, intermediates, revoked=None):
    root_crl = crl.sign_crl(root.cert, root.key, revoked or {}, 30, NOW)
    return crl.fleet_crl([root_crl], [crl.sign_crl(cert, key, {}, 30, NOW) for cert, key in intermediates])


# --- what openssl requires (the proxies' check) ----------------------------------------------

def test_fleet_file_lets_every_chain_pass(root, east, west, tmp_path):
    text = fleet(root, [east, west])
    for cert, key in (east, west):
        ok, output = openssl_verify(tmp_path, root.cert, [cert], leaf(cert, key), text)
        assert ok, output


def test_revoked_intermediate_fails_and_the_others_pass(root, east, west, tmp_path):
    text = fleet(root, [west], revoked={east[0].serial_number: NOW})
    ok, output = openssl_verify(tmp_path, root.cert, [east[0]], leaf(*east), text)
    assert not ok and "unable to get certificate CRL" in output  # its own CRL left the file with it
    ok, output = openssl_verify(tmp_path, root.cert, [east[0]], leaf(*east),
                                fleet(root, [east, west], revoked={east[0].serial_number: NOW}))
    assert not ok and "certificate revoked" in output
    ok, output = openssl_verify(tmp_path, root.cert, [west[0]], leaf(*west), text)
    assert ok, output


def test_an_intermediate_without_its_crl_fails(root, east, west, tmp_path):
    ok, output = openssl_verify(tmp_path, root.cert, [west[0]], leaf(*west), fleet(root, [east]))
    assert not ok and "unable to get certificate CRL" in output


def test_a_root_without_crl_sign_fails_every_chain(east, tmp_path):
    old = root_without_crl_sign()
    data = pki.issue_intermediate(old, "east", "ec")
    cert = pki.load_certs(("c", "c", data[pki.CA_CERT].encode()))[0]
    key = pki.load_key(("k", "k", data[pki.CA_KEY].encode()))
    ok, output = openssl_verify(tmp_path, old.cert, [cert], leaf(cert, key), fleet(old, [(cert, key)]))
    assert not ok and "key usage does not include CRL signing" in output


# --- reading ---------------------------------------------------------------------------------

def test_load_round_trip(root, east):
    text = fleet(root, [east])
    crls = crl.load_crls(crl.CA_CRL, text)
    assert [item.issuer for item in crls] == [root.cert.subject, east[0].subject]
    assert crl.crls_pem(crls) == text
    assert crl.load_crls(crl.CA_CRL, "") == [] and crl.load_crls(crl.CA_CRL, None) == []


@pytest.mark.parametrize("text, message", [
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "holds text that is not a PEM CRL"),
    ("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "holds a CRL (block 1) that does not parse"),
    ("junk", "holds text that is not a PEM CRL"),
])
def test_load_refuses(text, message):
    with pytest.raises(pki.PkiError) as info:
        crl.load_crls(crl.CA_CRL, text)
    assert message in str(info.value) and "ca-crl.pem" in str(info.value)


BASE64_LINES = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n", max_size=200)
ARMOURED = st.builds(lambda body: "-----BEGIN X509 CRL-----\n%s\n-----END X509 CRL-----\n" % body, BASE64_LINES)


@settings(derandomize=True, max_examples=150)
@given(st.text(max_size=300) | ARMOURED)
def test_load_never_raises_anything_but_pki_error(text):
    """ca-crl.pem is read from clusters: any text parses to CRLs or a PkiError naming the field."""
    try:
        crls = crl.load_crls(crl.CA_CRL, text)
    except pki.PkiError as exc:
        assert exc.field == crl.CA_CRL
    else:
        assert all(isinstance(item, x509.CertificateRevocationList) for item in crls)


@settings(derandomize=True, max_examples=30)
@given(st.binary(min_size=1, max_size=120))
def test_check_of_random_der_names_the_problem(der):
    text = "-----BEGIN X509 CRL-----\n%s\n-----END X509 CRL-----\n" % base64.b64encode(der).decode()
    assert set(crl.inspect_crl(text, [])) <= {"malformed"}


# --- signing ---------------------------------------------------------------------------------

def test_signed_crl_describes_itself(root, east):
    item = crl.sign_crl(root.cert, root.key, {east[0].serial_number: NOW}, 30, NOW)
    info = crl.describe_crl(item, NOW + 2 * DAY)
    assert info["issuer"] == "CN=Root CA,O=Istio"
    assert info["revoked"] == [format(east[0].serial_number, "x")]
    assert info["age_days"] == 2 and info["days_left"] == 27
    assert crl.signed_by(item, root.cert) and not crl.signed_by(item, east[0])


def test_crl_is_kept_while_fresh_and_its_list_unchanged(root, east):
    first, signed = crl.crl_of(root.cert, root.key, {}, [], 30, 10, NOW)
    assert signed
    again, signed = crl.crl_of(root.cert, root.key, {}, [first], 30, 10, NOW + 5 * DAY)
    assert not signed and again is first
    renewed, signed = crl.crl_of(root.cert, root.key, {}, [first], 30, 10, NOW + 21 * DAY)
    assert signed and renewed.next_update_utc > first.next_update_utc
    assert renewed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    listing, signed = crl.crl_of(root.cert, root.key, {east[0].serial_number: NOW}, [first], 30, 10, NOW)
    assert signed and crl.revoked_serials(listing) == [format(east[0].serial_number, "x")]


def test_crl_of_another_issuer_is_not_reused(root, east):
    other = crl.sign_crl(east[0], east[1], {}, 30, NOW)
    _item, signed = crl.crl_of(root.cert, root.key, {}, [other], 30, 10, NOW)
    assert signed


def test_a_crl_by_a_ca_without_crl_sign_does_not_count():
    old = root_without_crl_sign()
    item = crl.sign_crl(old.cert, old.key, {}, 30, NOW)
    assert not crl.signed_by(item, old.cert)


def test_fleet_file_is_ordered_root_first_then_by_issuer(root, east, west):
    root_crl = crl.sign_crl(root.cert, root.key, {}, 30, NOW)
    east_crl, west_crl = (crl.sign_crl(cert, key, {}, 30, NOW) for cert, key in (east, west))
    text = crl.fleet_crl([root_crl], [west_crl, east_crl])
    assert text == crl.crls_pem([root_crl, east_crl, west_crl])  # by issuer (L=east, then L=west)
    assert text == crl.fleet_crl([root_crl], [east_crl, west_crl])


@pytest.mark.parametrize("days, renew, message", [
    (0, 0, "crl_days 0 is not a number of days"),
    (10, 10, "crl_renew_before_days 10 is not below crl_days 10"),
    (10, -1, "crl_renew_before_days -1 is not a number of days"),
])
def test_crl_days_are_checked(days, renew, message):
    with pytest.raises(pki.PkiError) as info:
        crl.check_crl_days(days, renew)
    assert message in str(info.value)


# --- the record ------------------------------------------------------------------------------

def entries(**certs):
    return {name: crl.entry_of(name, cert) for name, cert in certs.items()}


def record_of(current, revoke=None, record=None, now=NOW):
    return crl.updated_record(record or crl.empty_record(), entries(**current), revoke or {}, now)


def test_record_keeps_the_current_intermediate_of_each_cluster(east, west):
    record = record_of({"east": east[0], "west": west[0]})
    assert record["clusters"]["east"]["serial"] == format(east[0].serial_number, "x")
    assert record["clusters"]["west"]["fingerprint"] == pki.fingerprint(west[0])
    assert record["revoked"] == {}
    assert crl.departed(record, ["east"]) == ["west"]


def test_departed_cluster_is_revoked_once_with_a_stable_date(east, west):
    record = record_of({"east": east[0], "west": west[0]})
    revoke = crl.resolve_revoked(record, [], ["east"], revoke_departed=True)
    assert list(revoke) == [format(west[0].serial_number, "x")]
    after = crl.updated_record(record, entries(east=east[0]), revoke, NOW)
    assert list(after["clusters"]) == ["east"] and after["revoked"][format(west[0].serial_number, "x")]["cluster"] == "west"
    later = crl.updated_record(after, entries(east=east[0]), crl.resolve_revoked(after, [], ["east"], True), NOW + DAY)
    assert later == after
    dates = crl.revocation_dates(later)
    assert list(dates) == [west[0].serial_number] and dates[west[0].serial_number] <= NOW


def test_departed_cluster_without_revoke_departed_stays_recorded(east, west):
    record = record_of({"east": east[0], "west": west[0]})
    assert crl.resolve_revoked(record, [], ["east"], revoke_departed=False) == {}
    assert "west" in crl.updated_record(record, entries(east=east[0]), {}, NOW)["clusters"]


def test_revoked_by_name_serial_or_fingerprint(east, west):
    record = record_of({"east": east[0], "west": west[0]})
    serial = format(west[0].serial_number, "x")
    for item in ("west", serial.upper(), pki.fingerprint(west[0]).lower()):
        assert list(crl.resolve_revoked(record, [item], ["east"], False)) == [serial]
    assert list(crl.resolve_revoked(record, ["abc123"], ["east", "west"], False)) == ["abc123"]


@pytest.mark.parametrize("item, message", [
    ("south", "mesh_ca_revoked 'south' names no intermediate the controller has recorded"),
    ("east", "mesh_ca_revoked 'east' is the current intermediate of east, still in the inventory"),
    ("", "mesh_ca_revoked '' is not a string"),
    (12, "mesh_ca_revoked 12 is not a string"),
])
def test_revoked_refuses(east, west, item, message):
    record = record_of({"east": east[0], "west": west[0]})
    with pytest.raises(pki.PkiError) as info:
        crl.resolve_revoked(record, [item], ["east"], False)
    assert message in str(info.value)


def test_expired_revocations_are_dropped(east, west):
    record = record_of({"east": east[0], "west": west[0]})
    after = crl.updated_record(record, entries(east=east[0]), crl.resolve_revoked(record, ["west"], ["east"], False), NOW)
    assert crl.updated_record(after, entries(east=east[0]), {}, west[0].not_valid_after_utc + DAY)["revoked"] == {}


@pytest.mark.parametrize("record", [[], {"clusters": {}}, {"clusters": [], "revoked": {}}, "text"])
def test_record_shape_is_checked(record):
    with pytest.raises(pki.PkiError) as info:
        crl.check_record(record, "/ca/intermediates.json")
    assert "record '/ca/intermediates.json' is not a record of intermediates" in str(info.value)


# --- the check -------------------------------------------------------------------------------

def test_check_passes_the_fleet_file(root, east, west):
    text = fleet(root, [east, west])
    assert crl.inspect_crl(text, [east[0], root.cert], text, NOW) == {}


def test_check_names_each_problem(root, east, west):
    text = fleet(root, [west])
    reasons = crl.inspect_crl(text, [east[0], root.cert], fleet(root, [east, west]), NOW)
    assert reasons == {"missing CRL": "L=east,CN=Intermediate CA,O=Istio",
                       "not current": "ca-crl.pem differs from the fleet's current one"}
    assert crl.inspect_crl(text, [west[0], root.cert], None, NOW + 31 * DAY) == {
        "expired": "L=west,CN=Intermediate CA,O=Istio (next update %s); CN=Root CA,O=Istio (next update %s)" % (
            pki.iso(NOW + 30 * DAY), pki.iso(NOW + 30 * DAY))}
    assert crl.inspect_crl("", [west[0]]) == {"missing": "no ca-crl.pem in cacerts"}
    assert "malformed" in crl.inspect_crl("junk", [west[0]])


def test_carried_over_keeps_replaced_intermediates_until_their_crl_expires(root, east, west):
    replaced = crl.sign_crl(west[0], west[1], {}, 30, NOW)
    current = [crl.sign_crl(east[0], east[1], {}, 30, NOW)]
    assert crl.carried_over([replaced, current[0]], current, set(), NOW) == [replaced]
    assert crl.carried_over([replaced], current, {crl.key_id(west[0])}, NOW) == []
    assert crl.carried_over([replaced], current, set(), NOW + 31 * DAY) == []
    assert crl.authority_key_id(replaced) == crl.key_id(west[0])


# --- an installed fleet's way to cRLSign: the same key certified again, through the root phases ----

def _pair(data):
    return (pki.load_certs((pki.CA_CERT, pki.CA_CERT, data[pki.CA_CERT].encode()))[0],
            pki.load_key((pki.CA_KEY, pki.CA_KEY, data[pki.CA_KEY].encode())))


def test_same_key_root_phases_reach_crl_sign_without_breaking_a_chain(tmp_path):
    old = root_without_crl_sign()
    new = pki.recertify_root(old, 365)
    assert pki.can_sign_crl(new.cert) and new.cert.subject == old.cert.subject
    assert pki.fingerprint(new.cert) != pki.fingerprint(old.cert) and new.key is old.key
    installed = intermediate_without_crl_sign(old, "east")
    old_pair = _pair(installed)

    # add-root: both certificates trusted, the intermediate kept
    adding = pki.Root(old.cert, old.key, [new.cert])
    assert list(pki.inspect_cacerts(installed, adding, "east")) == ["root bundle changed"]
    added = pki.renew_cacerts(installed, {"root bundle changed": ""}, adding, "east", "ec")

    # switch-root: the old intermediate still chains to the new certificate (same key), but lacks
    # cRLSign: re-issued, as in any switch-root
    switching = pki.Root(new.cert, new.key, [old.cert])
    reasons = pki.inspect_cacerts(added, switching, "east")
    assert "wrong root" not in reasons and {"no crl sign", "chain mismatch"} <= set(reasons)
    switched = pki.renew_cacerts(added, reasons, switching, "east", "ec")
    new_pair = _pair(switched)
    assert pki.can_sign_crl(new_pair[0]) and pki.inspect_cacerts(switched, switching, "east") == {}

    # without a CRL, a chain of either intermediate verifies against either root certificate
    for root_cert in (old.cert, new.cert):
        for cert, key in (old_pair, new_pair):
            ok, output = openssl_verify(tmp_path, root_cert, [cert], leaf(cert, key), None)
            assert ok, output

    # drop-old-root: only root-cert.pem changes
    dropping = pki.Root(new.cert, new.key)
    assert list(pki.inspect_cacerts(switched, dropping, "east")) == ["root bundle changed"]

    # revocation on: passes with the new certificate alone...
    text = fleet(new, [new_pair])
    ok, output = openssl_verify(tmp_path, new.cert, [new_pair[0]], leaf(*new_pair), text)
    assert ok, output
    # ...fails while the old certificate is still in the bundle (why drop-old-root comes first)...
    ok, output = openssl_verify(tmp_path, adding.bundle, [new_pair[0]], leaf(*new_pair), text)
    assert not ok and "key usage does not include CRL signing" in output
    # ...and for a workload still holding a certificate of the old intermediate (why workloads move first)
    ok, output = openssl_verify(tmp_path, new.cert, [old_pair[0]], leaf(*old_pair), text)
    assert not ok and "unable to get certificate CRL" in output


def test_an_intermediate_lacking_crl_sign_is_reissued_only_under_a_root_that_has_it():
    old = root_without_crl_sign()
    installed = intermediate_without_crl_sign(old, "east")
    assert pki.inspect_cacerts(installed, old, "east") == {}
    assert "no crl sign" in pki.inspect_cacerts(installed, pki.recertify_root(old, 365), "east")


# --- superseded intermediates (mesh_ca_revoke_superseded) -------------------------------------

def test_a_replaced_intermediate_is_revoked_only_after_its_cluster_stopped_presenting_it(root, east):
    new_east = intermediate(root, "east")
    old_key, new_key = crl.key_id(east[0]), crl.key_id(new_east[0])
    serial = format(east[0].serial_number, "x")
    record = record_of({"east": east[0]})
    # a partial run: the new one staged, the old one stays in cacerts (both presented after the run)
    staged = crl.updated_record(record, entries(east=new_east[0]), {}, NOW, (), {old_key, new_key})
    assert "moved_at" not in staged["superseded"][serial] and staged["clusters"]["east"]["key_id"] == new_key
    assert crl.updated_record(staged, entries(east=new_east[0]), {}, NOW + DAY, (), {old_key, new_key}) == staged
    assert crl.superseded_to_revoke(staged, {"east"}, {old_key, new_key}, 24, NOW + 9 * DAY) == {}
    # the full run that promotes: the old one moves now
    promoted = crl.updated_record(staged, entries(east=new_east[0]), {}, NOW + 2 * DAY, {old_key}, {new_key})
    assert promoted["superseded"][serial]["moved_at"] == pki.iso(NOW + 2 * DAY)
    # later runs: not presented any more, nothing changes; the wait counts from the promotion
    assert crl.updated_record(promoted, entries(east=new_east[0]), {}, NOW + 3 * DAY, (), {new_key}) == promoted
    assert crl.superseded_to_revoke(promoted, {"east"}, {new_key}, 24, NOW + 2 * DAY + DAY / 2) == {}
    assert crl.superseded_to_revoke(promoted, {"west"}, {new_key}, 24, NOW + 4 * DAY) == {}  # east not in the run
    revoke = crl.superseded_to_revoke(promoted, {"east"}, {new_key}, 24, NOW + 4 * DAY)
    assert list(revoke) == [serial]
    revoked = crl.updated_record(promoted, entries(east=new_east[0]), revoke, NOW + 4 * DAY, (), {new_key})
    assert serial in revoked["revoked"] and revoked["superseded"] == {}
    assert crl.resolve_revoked(revoked, [pki.fingerprint(east[0])], ["east"], False) == {serial: revoked["revoked"][serial]}


def test_a_superseded_intermediate_of_a_cluster_outside_the_run_is_left_as_it_is(root, east, west):
    new_east = intermediate(root, "east")
    staged = crl.updated_record(record_of({"east": east[0], "west": west[0]}), entries(east=new_east[0]), {}, NOW,
                                (), {crl.key_id(east[0]), crl.key_id(new_east[0])})
    assert crl.updated_record(staged, entries(west=west[0]), {}, NOW + DAY, (), {crl.key_id(west[0])}) == staged


def test_a_superseded_intermediate_leaves_the_record_when_it_expires(root, east):
    new_east = intermediate(root, "east")
    staged = crl.updated_record(record_of({"east": east[0]}), entries(east=new_east[0]), {}, NOW)
    assert list(staged["superseded"]) == [format(east[0].serial_number, "x")]
    assert crl.updated_record(staged, entries(east=new_east[0]), {}, east[0].not_valid_after_utc + DAY)["superseded"] == {}


def test_a_record_without_superseded_entries_is_read(east):
    record = record_of({"east": east[0]})
    del record["superseded"]
    assert crl.check_record(record, "/ca/intermediates.json")["superseded"] == {}
