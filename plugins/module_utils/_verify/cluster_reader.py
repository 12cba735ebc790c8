# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fleet check needs from one cluster, read without writing (the backend of mesh_check).

The control plane's Helm releases (from the labels their charts stamp, istiod's values redacted),
whether its Deployments are Available, the gateway's address, the zone server's records and what the
cluster DNS answers for the expected hosts (judged here, so that only the verdict travels: the
records are as many as the fleet's hosts), the roots istiod gives workloads, and its Istio
revisions (read_revisions: where the tags point, what uses each revision, dangling webhooks). An
object whose content cannot be read is a finding of the check it belongs to, not an error: the rest
is still read.
"""

from __future__ import annotations

import json

from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ZONE_RECORDS
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    LEGACY_REVISION, istiod_name, values_configmap_name)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import redact
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import resolve_gateway
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployment_not_ready
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.helm_release import stamped_release
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revisions import read_revisions
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import zone_records
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError, query_a
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import from_text
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import check_dns, expected_records

DNS_POLL_SECONDS = 3
# Where istiod publishes its CA's roots in every namespace (workloads verify peers with it).
ISTIOD_ROOTS_CONFIGMAP = "istio-ca-root-cert"
# Objects of the charts that say which chart version is installed (istiod's values: its revision's
# ConfigMap values-<revision>).
BASE_CHART_SERVICE_ACCOUNT = "istio-reader-service-account"


def read_cluster(client, params):
    """mesh_check's result (releases, not_ready, gateway, dns, istiod_roots, revisions, malformed,
    warnings) for the cluster of client. params: mesh_check's options (namespace, revision, deployments,
    gateway_service, address_override, plan and cluster_name or expected_records, dns_delegated,
    dns_server, dns_port, dns_wait). KubeError when the cluster cannot be read."""
    namespace = params["namespace"]
    malformed = []

    def readable(check, read, *args):
        """read(*args); None when the object it reads is malformed, which is then a finding of check."""
        try:
            return read(*args)
        except MalformedObject as exc:
            malformed.append(exc.finding(check))
            return None

    # What a tenant's malformed pod or namespace label leaves out of the revisions is a warning.
    warnings = []
    revisions = read_revisions(client, namespace, params["gateway_service"], warnings)
    # Without a revision given, the one the default tag serves (the legacy istiod when none does).
    revision = params.get("revision") or revisions.get("default_revision") or LEGACY_REVISION
    names = params.get("deployments") or [istiod_name(revision), params["gateway_service"]]
    deployments = {name: client.get("Deployment", name, namespace) for name in names}
    values = readable("control_plane", istiod_values,
                      client.get("ConfigMap", values_configmap_name(revision), namespace), namespace, revision)
    releases = installed_releases(client, namespace, deployments, values, istiod_name(revision))
    not_ready = {name: why for name, deployment in deployments.items()
                 for why in [deployment_not_ready(deployment)] if why}
    gateway = resolve_gateway(client, namespace, params["gateway_service"], params["address_override"])[0]
    records = readable("dns", zone_records.read_records,
                       client.get("ConfigMap", ZONE_RECORDS, namespace), namespace)
    expected = expected_records(from_text(params["plan"]), params["cluster_name"]) if params.get("plan") \
        else params["expected_records"]
    answers = dns_answers(params, expected, records or {})
    dns = check_dns(records, answers, params.get("dns_delegated"), expected, namespace)
    roots = readable("root", istiod_roots, client.get("ConfigMap", ISTIOD_ROOTS_CONFIGMAP, namespace), namespace)
    return dict(releases=releases, not_ready=not_ready, gateway=gateway, dns=dns, istiod_roots=roots,
                revisions=revisions, malformed=malformed, warnings=warnings)


def istiod_values(configmap, namespace, revision=LEGACY_REVISION):
    """The values the revision's istiod was installed with (its ConfigMap `values-<revision>`, key
    original-values), redacted; {} without them. MalformedObject when they are not a JSON object."""
    with reading("ConfigMap %s/%s" % (namespace, values_configmap_name(revision))):
        text = ((configmap or {}).get("data") or {}).get("original-values") or "{}"
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("original-values is not a JSON object")
        return redact(values)


def installed_releases(client, namespace, deployments, values_of_istiod, istiod=istiod_name(LEGACY_REVISION)):
    """{release: {chart, version, app_version, values}} from objects each chart stamps: the
    ServiceAccount of chart base, `deployments` ({name: Deployment}), and istiod's values
    (the values the release `istiod` was installed with). No Helm Secret is read
    (docs/permissions.md: the operate identity reads no Secret but cacerts)."""
    objects = [(client.get("ServiceAccount", BASE_CHART_SERVICE_ACCOUNT, namespace), None)]
    objects += [(deployment, values_of_istiod if name == istiod else None) for name, deployment in deployments.items()]
    releases = {}
    for obj, values in objects:
        release = stamped_release(obj, values)
        if release:
            releases[release.pop("release")] = release
    return releases


def istiod_roots(configmap, namespace):
    """Fingerprints of the roots istiod publishes to workloads (its CA's root bundle); None when it
    publishes none (yet). MalformedObject when they are not certificates."""
    text = ((configmap or {}).get("data") or {}).get("root-cert.pem")
    if not text or not pki.HAS_CRYPTOGRAPHY:
        return None
    with reading("ConfigMap %s/%s" % (namespace, ISTIOD_ROOTS_CONFIGMAP)):
        return [pki.fingerprint(cert) for cert in pki.load_certs(("root-cert.pem", "ConfigMap", text.encode()))]


def dns_answers(params, expected, records):
    """What the cluster DNS answers for every expected host ({host: vip}); asked again, up to dns_wait
    seconds, while a name the zone server holds right is answered wrong (a configuration still propagating)."""
    if not params["dns_server"]:
        return {}
    answers, todo = {}, sorted(expected)

    def pending():
        for host in todo:
            try:
                answers[host] = query_a(params["dns_server"], host, port=params["dns_port"])
            except DnsError as exc:
                answers[host] = str(exc)
        todo[:] = [host for host in todo if answers[host] != [expected[host]] and records.get(host) == expected[host]]
        return todo

    wait(pending, params["dns_wait"], DNS_POLL_SECONDS)
    return answers
