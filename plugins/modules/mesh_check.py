#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_check
short_description: Read what the fleet check needs from one cluster
version_added: 0.1.0
description:
  - Reads, in one call and without writing anything, the Helm releases of the control plane
    (chart versions from the labels Helm's charts put on their objects, istiod's values from its
    ConfigMap C(values); no Secret is read), whether istiod and the gateway are
    Available, the gateway's address, and the records of the C(global) zone server.
  - With O(dns_server), asks that DNS server for every host of O(expected_records), as a workload of
    the cluster would (the cluster DNS address must be reachable from the controller).
  - The C(verify) role compares the results of every cluster in one report (M(meshops.multicluster.mesh_report)).
options:
  address_override:
    description: The gateway address the inventory sets for this cluster (C(mesh_gateway_address_override)); wins over discovery.
    aliases: [gateway_address_override]
    type: str
    default: ""
  expected_records:
    description: C(.global) host name to VIP, as the ServiceEntries of this cluster hold them.
    type: dict
    default: {}
  dns_server:
    description: Address of the cluster's DNS to query for O(expected_records); empty to skip the queries.
    type: str
    default: ""
  dns_port:
    description: Port of O(dns_server).
    type: int
    default: 53
  dns_wait:
    description:
      - Seconds to keep asking while a name whose zone record is right is answered wrong. A cluster
        DNS picks up a changed configuration only after its reload interval (30 s in kubeadm's
        Corefile) and the ConfigMap's propagation to its pods (up to a minute).
    type: int
    default: 0
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.mesh.deployments
  - meshops.multicluster.mesh.gateway_service
  - meshops.multicluster.attributes.read_only
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Read this cluster's state for the fleet report
  meshops.multicluster.mesh_check:
    expected_records: {httpbin.bar.global: 240.0.10.1}
    dns_server: 10.96.0.10
  register: check
"""

RETURN = r"""
releases:
  description: Installed Helm releases in O(namespace), by name, with chart, chart version, app version and (istiod) values.
  returned: always
  type: dict
not_ready:
  description: Deployment name to why it is not Available (absent when all are).
  returned: always
  type: dict
gateway:
  description: Address, port and source of the gateway address; null when it has none.
  returned: always
  type: dict
zone_records:
  description: Host to IP records the C(global) zone server serves; null when it has no records ConfigMap.
  returned: always
  type: dict
dns_answers:
  description: Host to the addresses the cluster's DNS answered, or to the error; empty without O(dns_server).
  returned: always
  type: dict
malformed:
  description:
    - Objects whose content could not be read, each with the check it belongs to (C(control_plane), C(dns),
      C(root)), the object and what is wrong with it; the fleet check fails that check of this cluster.
  returned: always
  type: list
  elements: dict
istiod_roots:
  description:
    - Fingerprints of the roots istiod publishes to workloads (ConfigMap C(istio-ca-root-cert) in O(namespace));
      null when there is none yet. Not the roots of Secret cacerts means istiod runs a CA of its own.
  returned: always
  type: list
  elements: str
"""

import json

from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError, query_a
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import deployment_not_ready, resolve_gateway
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.helm_release import stamped_release
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE, ISTIOD
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import redact
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import zone_records


DNS_POLL_SECONDS = 3
# Where istiod publishes its CA's roots in every namespace (workloads verify peers with it).
ISTIOD_ROOTS_CONFIGMAP = "istio-ca-root-cert"
# Objects of the charts that say which chart version is installed, and istiod's values.
BASE_CHART_SERVICE_ACCOUNT = "istio-reader-service-account"
ISTIOD_VALUES_CONFIGMAP = "values"


def read_cluster(client, p):
    namespace = p["namespace"]
    malformed = []

    def readable(check, read, *args):
        """read(*args); None when the object it reads is malformed, which is then a finding of check."""
        try:
            return read(*args)
        except MalformedObject as exc:
            malformed.append(exc.finding(check))
            return None

    deployments = {name: client.get("Deployment", name, namespace) for name in p["deployments"]}
    values = readable("control_plane", istiod_values, client.get("ConfigMap", ISTIOD_VALUES_CONFIGMAP, namespace),
                      namespace)
    releases = installed_releases(client, namespace, deployments, values)
    not_ready = {name: why for name, deployment in deployments.items()
                 for why in [deployment_not_ready(deployment)] if why}
    gateway = resolve_gateway(client, namespace, p["gateway_service"], p["address_override"])[0]
    records = readable("dns", zone_records.read_records,
                       client.get("ConfigMap", zone_records.RECORDS_CONFIGMAP, namespace), namespace)
    answers = dns_answers(p, records or {})
    roots = readable("root", istiod_roots, client.get("ConfigMap", ISTIOD_ROOTS_CONFIGMAP, namespace), namespace)
    return dict(releases=releases, not_ready=not_ready, gateway=gateway, zone_records=records, dns_answers=answers,
                istiod_roots=roots, malformed=malformed)


def istiod_values(configmap, namespace):
    """The values istiod was installed with (its ConfigMap `values`, key original-values), redacted;
    {} without them. MalformedObject when they are not a JSON object."""
    with reading("ConfigMap %s/%s" % (namespace, ISTIOD_VALUES_CONFIGMAP)):
        text = ((configmap or {}).get("data") or {}).get("original-values") or "{}"
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("original-values is not a JSON object")
        return redact(values)


def installed_releases(client, namespace, deployments, istiod_values):
    """{release: {chart, version, app_version, values}} from objects each chart stamps: the
    ServiceAccount of chart base, `deployments` ({name: Deployment}), and istiod's values
    (the values the release was installed with). No Helm Secret is read
    (docs/permissions.md: the operate identity reads no Secret but cacerts)."""
    objects = [(client.get("ServiceAccount", BASE_CHART_SERVICE_ACCOUNT, namespace), None)]
    objects += [(deployment, istiod_values if name == "istiod" else None) for name, deployment in deployments.items()]
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


def dns_answers(p, records):
    """What the cluster DNS answers for every expected host; asked again, up to dns_wait seconds,
    while a name the zone server holds right is answered wrong (a configuration still propagating)."""
    if not p["dns_server"]:
        return {}
    expected, answers, todo = p["expected_records"], {}, sorted(p["expected_records"])

    def pending():
        for host in todo:
            try:
                answers[host] = query_a(p["dns_server"], host, port=p["dns_port"])
            except DnsError as exc:
                answers[host] = str(exc)
        todo[:] = [host for host in todo if answers[host] != [expected[host]] and records.get(host) == expected[host]]
        return todo

    wait(pending, p["dns_wait"], DNS_POLL_SECONDS)
    return answers


def main():
    module = k8s_module(dict(
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        deployments=dict(type="list", elements="str", default=[ISTIOD, GATEWAY]),
        gateway_service=dict(type="str", default=GATEWAY),
        address_override=dict(type="str", default="", aliases=["gateway_address_override"]),
        expected_records=dict(type="dict", default={}),
        dns_server=dict(type="str", default=""),
        dns_port=dict(type="int", default=53),
        dns_wait=dict(type="int", default=0),
    ), supports_check_mode=True)
    client = k8s_client(module)
    try:
        result = read_cluster(client, module.params)
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
