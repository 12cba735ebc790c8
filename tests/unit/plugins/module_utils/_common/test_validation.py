"""One DNS-name check for the whole collection."""

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import label_error, name_errors


@pytest.mark.parametrize("value", ["a", "cluster-1", "x" * 63, "1abc"])
def test_labels(value):
    assert label_error(value) is None


@pytest.mark.parametrize("value, why", [
    ("", "is empty"), (None, "is empty"), ("x" * 64, "is 64 characters long (at most 63)"),
    ("Net_1", "must be lowercase"), ("-a", "must be lowercase"), ("a-", "must be lowercase"), ("a.b", "must be lowercase"),
])
def test_not_labels(value, why):
    assert label_error(value).startswith(why)


def test_dotted_names():
    assert name_errors("httpbin.bar.global") == []
    assert name_errors("a..b") == ["label '' is empty"]
    assert name_errors(("x" * 64) + ".global") == ["label '%s' is 64 characters long (at most 63)" % ("x" * 64)]
    assert name_errors(".".join(["x" * 63] * 4)) == ["is 255 characters long (at most 253)"]


# Adversarial input (issue #20, finding 8): whole-string matches, strict IP addresses.

import ipaddress  # noqa: E402

from hypothesis import given, strategies as st  # noqa: E402

from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import DNS_LABEL, parse_ip  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import check_ip  # noqa: E402

labels = st.from_regex(DNS_LABEL, fullmatch=True)
# What must never pass a validator: whitespace of every kind, a scope-id or format character,
# Corefile syntax, non-ASCII look-alikes.
JUNK = st.sampled_from(["\n", "\r\n", " ", "\t", "\x0b", "\x0c", "\x00", "\u00a0", "\u2028", "%", "%eth0",
                        "{", "}", "#", ".", "é", "\uff11", "\u0131", "%0\n}\n.:53 {\n  forward . 1.1.1.1\n}\n"])


def test_label_with_a_trailing_newline_is_refused():
    assert label_error("east\n") is not None
    assert name_errors("pay.fx.global\n") != []


@given(labels)
def test_valid_labels_pass(label):
    assert label_error(label) is None
    assert name_errors(label + ".global") == []


@given(labels, JUNK, st.integers(min_value=0, max_value=64))
def test_labels_with_junk_anywhere_are_refused(label, junk, at):
    at = min(at, len(label))
    value = label[:at] + junk + label[at:]
    assert label_error(value) is not None
    assert name_errors(value + ".global") != [] or junk == "."


@given(st.text(max_size=70))
def test_any_text_passes_only_when_it_is_exactly_a_label(text):
    valid = bool(text) and len(text) <= 63 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in text) \
        and text[0] != "-" and text[-1] != "-"
    assert (label_error(text) is None) == valid


@given(st.ip_addresses())
def test_ip_addresses_round_trip(ip):
    assert parse_ip(str(ip)) == ip
    assert check_ip(str(ip)) == str(ip)
    assert check_ip(ip.exploded) == str(ip)


@given(st.ip_addresses(), JUNK, st.booleans())
def test_ip_addresses_with_junk_are_refused(ip, junk, before):
    value = junk + str(ip) if before else str(ip) + junk
    with pytest.raises(ValueError):
        parse_ip(value)
    with pytest.raises(ValueError, match="target_ips: .* is not an IP address"):
        check_ip(value)


@given(st.text(max_size=50))
def test_any_text_passes_only_as_a_plain_address(text):
    try:
        parsed = parse_ip(text)
    except ValueError:
        return
    assert set(text) <= set("0123456789abcdefABCDEF.:")
    assert parsed == ipaddress.ip_address(text)


@pytest.mark.parametrize("value", ["fe80::1%eth0", "fe80::1%0\n}\n.:53 {\n  forward . 8.8.8.8\n}", " 10.0.0.1",
                                   "10.0.0.1\n", "10.0.0.1 ", 167772161, None, "１0.0.0.1"])
def test_ip_scope_ids_whitespace_and_non_strings_are_refused(value):
    with pytest.raises(ValueError, match="is not an IP address"):
        check_ip(value)
