# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's certificate revocation lists: the `ca-crl.pem` key of every cluster's cacerts.

What istiod and the proxies require (istio security/pkg/pki/util/keycertbundle.go `Verify`, Envoy's
CRL check without only_verify_leaf_cert_crl, `openssl verify -crl_check_all`): once a CRL file is
there, every CA of a chain needs a CRL signed by it, and its issuer's keyUsage must allow cRLSign.
So one file for the whole fleet: the root's CRL (listing the revoked intermediates) and, signed by
each intermediate in service, an empty CRL for the certificates it issued. Every cluster gets the
same bytes; a CRL is signed again only when what it lists changes or it nears its nextUpdate.

Revoking a cluster that left the inventory needs the serial of its last intermediate, whose key
lived only in that cluster: the controller keeps a record next to the root (`record_file`), the
serial of every cluster's current intermediate and every revocation made.

Pure functions over the cryptography library; no key material in any message or result.
"""

from __future__ import annotations

import datetime
import re

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
except ImportError:  # reported by the module through pki.HAS_CRYPTOGRAPHY
    pass

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki

CA_CRL = "ca-crl.pem"
RECORD_FILE = "intermediates.json"
CRL_VALIDITY_DAYS = 30
CRL_RENEW_BEFORE_DAYS = 10
CRL_PEM = re.compile(r"-----BEGIN X509 CRL-----\r?\n.*?-----END X509 CRL-----\r?\n?", re.S)
SERIAL = re.compile(r"[0-9a-fA-F]{1,40}")
FINGERPRINT = re.compile(r"(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}")


# --- reading ---------------------------------------------------------------------------------

def load_crls(field, text):
    """Every CRL of a PEM text, in order ([] for empty text); PkiError naming the field when the
    text holds anything else or a block does not parse."""
    text = text or ""
    blocks = CRL_PEM.findall(text)
    if CRL_PEM.sub("", text).strip():
        raise pki.PkiError(field, pki.PEM_CONTENT, "holds text that is not a PEM CRL",
                           "only '-----BEGIN X509 CRL-----' blocks")
    crls = []
    for number, block in enumerate(blocks, 1):
        try:
            crls.append(x509.load_pem_x509_crl(block.encode()))
        except ValueError:
            raise pki.PkiError(field, pki.PEM_CONTENT, "holds a CRL (block %d) that does not parse" % number,
                               "DER CRLs in PEM armour, as openssl crl writes them")
    return crls


def crls_pem(crls):
    return "".join(item.public_bytes(serialization.Encoding.PEM).decode() for item in crls)


def signed_by(item, cert):
    """Whether cert signed this CRL and may sign CRLs (the test istiod makes, Go's CheckSignatureFrom)."""
    try:
        return (item.issuer == cert.subject and pki.can_sign_crl(cert)
                and item.is_signature_valid(cert.public_key()))
    except (TypeError, ValueError):
        return False


def signed_by_each(crls, certs):
    """{fingerprint of cert: its CRL or None} for each certificate."""
    return {pki.fingerprint(cert): next((item for item in crls if signed_by(item, cert)), None) for cert in certs}


def revoked_serials(item):
    return sorted(format(entry.serial_number, "x") for entry in item)


def _next_update(item):
    return item.next_update_utc


def describe_crl(item, now=None):
    """What a report shows of one CRL: issuer, revoked serials, age and next update."""
    now = now or pki.utcnow()
    next_update = _next_update(item)
    return {
        "issuer": item.issuer.rfc4514_string(),
        "revoked": revoked_serials(item),
        "this_update": pki.iso(item.last_update_utc),
        "next_update": pki.iso(next_update) if next_update else None,
        "age_days": (now - item.last_update_utc).days,
        "days_left": (next_update - now).days if next_update else None,
    }


# --- signing ---------------------------------------------------------------------------------

def fresh(item, renew_before_days, now=None):
    """Whether a CRL is valid now and stays so for more than renew_before_days."""
    now = now or pki.utcnow()
    next_update = _next_update(item)
    return (next_update is not None and item.last_update_utc <= now + pki.CLOCK_SKEW
            and (next_update - now) > datetime.timedelta(days=renew_before_days))


def _crl_number(item):
    try:
        return item.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def sign_crl(cert, key, revoked, days, now=None, number=1):
    """A CRL signed by cert's key listing revoked ({serial int: revocation datetime}), valid days."""
    now = now or pki.utcnow()
    this_update = now - pki.CLOCK_SKEW
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(cert.subject)
               .last_update(this_update)
               .next_update(now + datetime.timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(cert.public_key()), critical=False))
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(key, hashes.SHA256())


def crl_of(cert, key, revoked, existing, days, renew_before_days, now=None):
    """(crl, signed): the CRL of cert listing revoked; an existing one signed by cert with the same
    list is kept while fresh, so that runs do not re-sign (same input, same bytes)."""
    now = now or pki.utcnow()
    current = [item for item in existing if signed_by(item, cert)]
    wanted = sorted(format(serial, "x") for serial in revoked)
    for item in current:
        if revoked_serials(item) == wanted and fresh(item, renew_before_days, now):
            return item, False
    number = max([_crl_number(item) for item in current] or [0]) + 1
    return sign_crl(cert, key, revoked, days, now, number), True


def check_crl_days(days, renew_before_days):
    pki.check_days("crl_days", days)
    pki.check_days("crl_renew_before_days", renew_before_days, minimum=0)
    if renew_before_days >= days:
        raise pki.PkiError("crl_renew_before_days", renew_before_days, "is not below crl_days %d" % days,
                           "fewer days than crl_days, or every run would sign the CRLs again")


def fleet_crl(root_crls, intermediate_crls):
    """The one ca-crl.pem of the fleet: the roots' CRLs (the signing root's first, then those of the
    other roots of a rotation, each once), then the intermediates', ordered by issuer and key (the
    same set always gives the same bytes)."""
    ordered = sorted(intermediate_crls, key=lambda item: (item.issuer.rfc4514_string(), authority_key_id(item) or ""))
    distinct = {}
    for item in list(root_crls) + ordered:
        distinct.setdefault(item.public_bytes(serialization.Encoding.DER), item)
    return crls_pem(distinct.values())


def carried_over(previous, current, revoked_key_ids, now=None):
    """CRLs of the previous fleet file to keep: those of intermediates no cluster presents now (one
    replaced by a rotation, whose workloads' certificates live on for a while, or a cluster that
    left without revocation) while they are valid; never one of a revoked intermediate."""
    now = now or pki.utcnow()
    keys = {authority_key_id(item) for item in current}
    return [item for item in previous if authority_key_id(item) not in keys
            and authority_key_id(item) not in revoked_key_ids
            and _next_update(item) is not None and _next_update(item) > now]


# --- the record of intermediates and revocations ----------------------------------------------

def empty_record():
    return {"clusters": {}, "revoked": {}, "superseded": {}}


def check_record(record, path):
    """The record read from the controller, its shape checked (it is only ever written by us); one
    written before superseded intermediates were kept gets an empty map of them."""
    if (not isinstance(record, dict) or not isinstance(record.get("clusters"), dict)
            or not isinstance(record.get("revoked"), dict) or not isinstance(record.get("superseded", {}), dict)):
        raise pki.PkiError("record", path, "is not a record of intermediates",
                           "a JSON object with 'clusters', 'revoked' and 'superseded' maps (restore it from a backup)")
    return dict(record, superseded=record.get("superseded", {}))


def key_id(cert):
    """The subject key identifier of a CA certificate, as its CRLs name it (authority key id)."""
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest.hex()


def authority_key_id(item):
    try:
        return item.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier.hex()
    except (x509.ExtensionNotFound, AttributeError):
        return None


def entry_of(cluster, cert):
    """What the record keeps of a cluster's intermediate."""
    return {"cluster": cluster, "serial": format(cert.serial_number, "x"), "fingerprint": pki.fingerprint(cert),
            "key_id": key_id(cert), "not_after": pki.iso(cert.not_valid_after_utc)}


def _find(record, item):
    """The recorded entry (current, superseded or revoked) an item of mesh_ca_revoked names, or None."""
    entries = [entry for kind in ("clusters", "superseded", "revoked") for entry in record[kind].values()]
    if FINGERPRINT.fullmatch(item):
        return next((entry for entry in entries if entry["fingerprint"] == item.upper()), None)
    if SERIAL.fullmatch(item):
        return next((entry for entry in entries if entry["serial"] == item.lower()),
                    {"cluster": None, "serial": item.lower(), "fingerprint": None, "not_after": None})
    return record["clusters"].get(item)


def resolve_revoked(record, revoked, inventory_clusters, revoke_departed):
    """The entries to revoke: each item of revoked (a cluster name of the record, a serial in hex or
    a SHA-256 fingerprint of a recorded intermediate), and with revoke_departed the current
    intermediate of every recorded cluster no longer in the inventory. A cluster still in the
    inventory cannot be revoked by name: its istiod would keep signing with the revoked key."""
    entries = {}
    for item in revoked:
        if not isinstance(item, str) or not item:
            raise pki.PkiError("mesh_ca_revoked", item, "is not a string",
                               "a cluster name, a certificate serial in hex or a SHA-256 fingerprint")
        entry = _find(record, item)
        if entry is None:
            raise pki.PkiError("mesh_ca_revoked", item, "names no intermediate the controller has recorded",
                               "a cluster name or fingerprint of %s, or a serial in hex"
                               % (", ".join(sorted(record["clusters"])) or "no recorded cluster"))
        if entry["cluster"] in inventory_clusters and entry in record["clusters"].values():
            raise pki.PkiError("mesh_ca_revoked", item, "is the current intermediate of %s, still in the inventory"
                               % entry["cluster"], "remove the cluster from the inventory first, or rotate its "
                               "intermediate (rotate.yml, mesh_ca_rotate_phase=intermediates) and revoke the old serial")
        entries[entry["serial"]] = entry
    if revoke_departed:
        for name, entry in record["clusters"].items():
            if name not in inventory_clusters:
                entries[entry["serial"]] = entry
    return entries


def departed(record, inventory_clusters):
    """Recorded clusters that left the inventory, whose intermediates are not revoked."""
    return sorted(name for name in record["clusters"] if name not in inventory_clusters)


def _alive(entry, stamp):
    return not entry.get("not_after") or entry["not_after"] > stamp


def updated_record(record, current, revoke, now=None, moving=(), staying=()):
    """The record after this run: current ({cluster: entry_of(...)}) replaces each cluster's
    entry, the entry it replaces moves to 'superseded'; the entries to revoke move to 'revoked' with
    the time of their first revocation (kept, so that the root's CRL does not change on every run).
    A superseded entry of a cluster of this run notes when that cluster stopped presenting it
    (`moved_at`, the promotion of its successor, from which its workloads move): key ids in staying
    are still presented after this run (none then), those in moving stop being presented in this run
    (now), others were not presented (kept, or now). Expired entries are dropped (refused anyway)."""
    stamp = pki.iso(now or pki.utcnow())
    revoked = {serial: entry for serial, entry in record["revoked"].items() if _alive(entry, stamp)}
    for serial, entry in revoke.items():
        revoked.setdefault(serial, dict(entry, revoked_at=stamp))
    superseded = dict(record["superseded"])
    for name, entry in current.items():
        replaced = record["clusters"].get(name)
        if replaced and replaced["serial"] != entry["serial"]:
            superseded.setdefault(replaced["serial"], replaced)
    superseded = {serial: _moved(entry, current, moving, staying, stamp) for serial, entry in superseded.items()
                  if serial not in revoked and _alive(entry, stamp)}
    clusters = {name: entry for name, entry in record["clusters"].items() if entry["serial"] not in revoked}
    clusters.update(current)
    return {"clusters": dict(sorted(clusters.items())), "revoked": dict(sorted(revoked.items())),
            "superseded": dict(sorted(superseded.items()))}


def _moved(entry, current, moving, staying, stamp):
    """A superseded entry with moved_at as this run leaves it (see updated_record)."""
    if entry["cluster"] not in current:  # not in this run: what its cluster presents is unknown
        return entry
    if entry.get("key_id") in staying:
        return {key: value for key, value in entry.items() if key != "moved_at"}
    if entry.get("key_id") in moving or "moved_at" not in entry:
        return dict(entry, moved_at=stamp)
    return entry


def superseded_to_revoke(record, run_clusters, presented, after_hours, now=None):
    """The superseded entries (mesh_ca_revoke_superseded) to revoke: of a cluster of this run that no
    longer presents it (key id not in presented), moved away from at least after_hours ago, so that
    every workload certificate it signed has been renewed under its successor."""
    limit = pki.iso((now or pki.utcnow()) - datetime.timedelta(hours=after_hours))
    return {serial: entry for serial, entry in record["superseded"].items()
            if entry["cluster"] in run_clusters and entry.get("key_id") not in presented
            and entry.get("moved_at") and entry["moved_at"] <= limit}


def revocation_dates(record):
    """{serial int: revocation datetime} of the record's revoked entries, for the root's CRL."""
    return {int(serial, 16): datetime.datetime.strptime(entry["revoked_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc) for serial, entry in record["revoked"].items()}


# --- the check -------------------------------------------------------------------------------

def inspect_crl(text, chain, fleet_text=None, now=None):
    """Why a cluster's ca-crl.pem is not right, {reason: detail} ({} when it is): every CA of its
    chain (intermediate and root, istiod's rule) has a CRL valid now, and it is the fleet's current
    file when fleet_text is given."""
    now = now or pki.utcnow()
    if not text:
        return {"missing": "no %s in cacerts" % CA_CRL}
    try:
        crls = load_crls(CA_CRL, text)
    except pki.PkiError as exc:
        return {"malformed": str(exc)}
    reasons = {}
    for cert in chain:
        item = signed_by_each(crls, [cert])[pki.fingerprint(cert)]
        if item is None:
            reasons.setdefault("missing CRL", []).append(cert.subject.rfc4514_string())
        elif _next_update(item) is None or _next_update(item) <= now:
            reasons.setdefault("expired", []).append("%s (next update %s)" % (
                cert.subject.rfc4514_string(), pki.iso(_next_update(item)) if _next_update(item) else "none"))
    reasons = {reason: "; ".join(names) for reason, names in reasons.items()}
    if fleet_text is not None and text != fleet_text:
        reasons["not current"] = "%s differs from the fleet's current one" % CA_CRL
    return reasons
