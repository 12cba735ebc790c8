# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Istio and Kubernetes versions the collection is tested with and the ranges it supports: their
one home (docs/variables.md, "Supported versions", says the same; a unit test holds the two together).
Outside a range the preflight check warns and goes on: a newer release may well work, an older one is
past its support by the Istio or Kubernetes project."""

from __future__ import annotations

import re

# What the lab runs (lab/versions.toml): Istio release-1.31 (the commit of 1.31.0), Kubernetes v1.34.
TESTED_ISTIO = "1.31"
TESTED_KUBERNETES = "1.34"

# Istio minors the Istio project supports (a minor until six weeks after the N+2 minor: 1.29 ended in
# October 2026, six weeks after 1.31.0 of 2026-08-31), first and last.
ISTIO_RANGE = ((1, 30), (1, 31))
# Kubernetes minors those Istio minors support (istio.io "Supported Releases"; istioctl 1.31.0 requires 1.32).
KUBERNETES_RANGE = ((1, 32), (1, 36))

# "1.31.0", "1.31-dev", "v1.34.4", "v1.34.4+k3s1", "v1.34.4-eks-1234": major and minor first.
_VERSION = re.compile(r"v?(\d+)\.(\d+)([.+-][0-9A-Za-z.+-]*)?")


def minor_version(version):
    """(major, minor) of a version string, or None when it is not one (the whole string must match)."""
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def range_text(bounds):
    return "%d.%d to %d.%d" % (bounds[0] + bounds[1])


def _why_outside(version, bounds):
    """Why a version is outside bounds ("older", "newer", "not a version"), or None inside them."""
    minor = minor_version(version)
    if minor is None:
        return "not a version"
    return "older" if minor < bounds[0] else "newer" if minor > bounds[1] else None


ISTIO_WHY = {"older": "past Istio's support: a minor is supported until six weeks after the next-but-one",
             "newer": "newer than the collection is tested with",
             "not a version": "not an Istio version"}
KUBERNETES_WHY = {"older": "older than Istio %s support" % range_text(ISTIO_RANGE),
                  "newer": "newer than Istio %s support" % range_text(ISTIO_RANGE),
                  "not a version": "not a Kubernetes version"}


def istio_warnings(clusters):
    """One warning per mesh_istio_version (chart_version of the clusters, dicts with host and
    chart_version) outside ISTIO_RANGE, naming its hosts."""
    hosts_of = {}
    for cluster in clusters:
        hosts_of.setdefault(cluster.get("chart_version"), []).append(cluster["host"])
    return ["mesh_istio_version=%r (%s) is outside the Istio versions this collection supports, %s (tested with "
            "%s): %s; see docs/variables.md, Supported versions"
            % (version, ", ".join(hosts), range_text(ISTIO_RANGE), TESTED_ISTIO, ISTIO_WHY[why])
            for version, hosts in hosts_of.items() for why in [_why_outside(version, ISTIO_RANGE)] if why]


def kubernetes_warnings(versions):
    """One warning per cluster whose Kubernetes version ({host: the API server's gitVersion}) is
    outside KUBERNETES_RANGE. A version that could not be read (None) is left out."""
    return ["%s: Kubernetes %s is outside the versions this collection supports, %s (tested with %s): %s; "
            "see docs/variables.md, Supported versions"
            % (host, version, range_text(KUBERNETES_RANGE), TESTED_KUBERNETES, KUBERNETES_WHY[why])
            for host, version in versions.items() if version is not None
            for why in [_why_outside(version, KUBERNETES_RANGE)] if why]


def server_version(client):
    """The API server's version (GET /version: gitVersion, e.g. "v1.34.4"), readable by every identity."""
    return (client.request("GET", "/version") or {}).get("gitVersion")
