# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one check of Kubernetes names the collection uses: DNS-1123 labels (cluster, network and
namespace names) and dotted DNS names (hosts, zones), and the one parser of IP addresses. Each
says why a value is not one.

Patterns are matched with fullmatch: `$` also matches before a final newline, so `re.match` with
`^...$` lets "east\n" through."""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 label as Kubernetes checks it: lower case, at most 63 characters.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
LABEL_RULE = "at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"


def label_error(value):
    """Why `value` is not a DNS-1123 label, or None."""
    if not isinstance(value, str) or not value:
        return "is empty"
    if len(value) > 63:
        return "is %d characters long (at most 63)" % len(value)
    if not DNS_LABEL.fullmatch(value):
        return "must be lowercase letters, digits and '-', starting and ending with a letter or digit"
    return None


def name_errors(value):
    """Why `value` is not a dotted DNS name of DNS-1123 labels (at most 253 characters): a list."""
    text = str(value)
    if len(text) > 253:
        return ["is %d characters long (at most 253)" % len(text)]
    return ["label %r %s" % (label, label_error(label)) for label in text.split(".") if label_error(label)]


# What an IP address is made of once the version is known: no scope id (`fe80::1%eth0`), no
# whitespace, nothing but ASCII hex digits, dots and colons.
IP_CHARACTERS = re.compile(r"[0-9A-Fa-f.:]+")


def parse_ip(value):
    """The ipaddress object of `value`, parsed strictly: a str holding exactly one IPv4 or IPv6
    address, without an IPv6 scope id or surrounding whitespace. ValueError saying why not."""
    if not isinstance(value, str):
        raise ValueError("is a %s, not a string" % type(value).__name__)
    if not IP_CHARACTERS.fullmatch(value):
        raise ValueError("holds characters other than hex digits, '.' and ':' (no whitespace, no IPv6 scope id)")
    return ipaddress.ip_address(value)
