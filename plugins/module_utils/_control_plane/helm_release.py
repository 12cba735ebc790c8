# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Helm 3 releases from their storage Secrets, without the helm binary."""

from __future__ import annotations

import base64
import gzip
import json

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import reading

GZIP_MAGIC = b"\x1f\x8b"


def decode_release(secret):
    """The release JSON of a Secret `sh.helm.release.v1.<name>.v<revision>`; MalformedObject naming
    the Secret when it holds no readable release."""
    meta = secret.get("metadata") or {}
    with reading("Secret %s/%s" % (meta.get("namespace"), meta.get("name"))):
        raw = base64.b64decode(base64.b64decode((secret.get("data") or {})["release"]))
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        release = json.loads(raw)
        if not isinstance(release, dict) or not isinstance(release.get("name"), str):
            raise ValueError("the release is not a JSON object with a name")
        return release


def deployed_releases(secrets, names=None):
    """{release name: {chart, version, app_version, revision, values}} of the deployed revisions (of
    the releases named, by their Secrets' label `name`, when names is given: a malformed Secret of
    another release is not read). MalformedObject for a Secret that cannot be read."""
    releases = {}
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get("owner") != "helm" or labels.get("status") != "deployed":
            continue
        if names is not None and labels.get("name") not in names:
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


def stamped_release(obj, values=None):
    """A release as the objects of its chart show it ({chart, version, app_version, values}), from
    the labels Helm's charts put on every object (helm.sh/chart: <chart>-<version>); None without
    them. Reads no Helm Secret: an identity that may not read Secrets can still check versions."""
    meta = (obj or {}).get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    chart_label = labels.get("helm.sh/chart") or ""
    release = annotations.get("meta.helm.sh/release-name") or labels.get("app.kubernetes.io/instance")
    app_version = labels.get("app.kubernetes.io/version")
    if not chart_label or not release:
        return None
    # The chart name is the label's part before the version; versions may hold '-' (1.31-dev).
    if app_version and chart_label.endswith("-" + app_version):
        chart, version = chart_label[:-len(app_version) - 1], app_version
    else:
        chart, _dash, version = chart_label.partition("-")
    return {"release": release, "chart": chart, "version": version, "app_version": app_version,
            "values": values or {}}
