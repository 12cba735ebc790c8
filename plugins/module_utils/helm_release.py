# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Helm 3 releases from their storage Secrets, without the helm binary."""

from __future__ import annotations

import base64
import gzip
import json

GZIP_MAGIC = b"\x1f\x8b"


def decode_release(secret):
    """The release JSON of a Secret `sh.helm.release.v1.<name>.v<revision>`."""
    raw = base64.b64decode(base64.b64decode((secret.get("data") or {})["release"]))
    if raw[:2] == GZIP_MAGIC:
        raw = gzip.decompress(raw)
    return json.loads(raw)


def deployed_releases(secrets):
    """{release name: {chart, version, app_version, revision, values}} of the deployed revisions."""
    releases = {}
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get("owner") != "helm" or labels.get("status") != "deployed":
            continue
        release = decode_release(secret)
        meta = (release.get("chart") or {}).get("metadata") or {}
        current = releases.get(release["name"])
        if current and current["revision"] >= release.get("version", 0):
            continue
        releases[release["name"]] = {
            "chart": meta.get("name"),
            "version": meta.get("version"),
            "app_version": meta.get("appVersion"),
            "revision": release.get("version", 0),
            "values": release.get("config") or {},
        }
    return releases


def compare_release(deployed, chart_version, values):
    """{up_to_date, chart, version, revision, differences} of a deployed release (or None) against
    the desired chart version and user-supplied values."""
    if deployed is None:
        return {"up_to_date": False, "chart": None, "version": None, "revision": 0, "differences": ["not installed"]}
    differences = []
    if str(deployed["version"]) != str(chart_version):
        differences.append("chart version %s, expected %s" % (deployed["version"], chart_version))
    if deployed["values"] != (values or {}):
        differences.append("values differ")
    return {"up_to_date": not differences, "chart": deployed["chart"], "version": deployed["version"],
            "revision": deployed["revision"], "differences": differences}
