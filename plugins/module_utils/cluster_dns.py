# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mesh_dns does in one cluster: find its DNS (CoreDNS or kube-dns, and the ConfigMap it
reads), then add, update or remove the delegation of one zone - a marked block of a Corefile,
a coredns-custom key, or a kube-dns stub domain - touching nothing else of that ConfigMap.

Check mode is decided here, at the write.
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils import corefile, kubedns
from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import KubeError, is_ours, managed_labels
from ansible_collections.meshops.multicluster.plugins.module_utils.zone_records import check_dns_name, check_ip

ADDON_MANAGER_LABEL = "addonmanager.kubernetes.io/mode"
CONFLICT_RETRIES = 3


def coredns_image(deployment):
    """The first container image of the Deployment that is CoreDNS, or None."""
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        if "coredns" in container.get("image", "").rsplit("/", 1)[-1]:
            return container["image"]
    return None


def coredns_deployment(deployments):
    """Deployment `coredns`, else one labelled k8s-app=kube-dns, that runs a CoreDNS image."""
    for wanted in (lambda d: d["metadata"]["name"] == "coredns",
                   lambda d: (d["metadata"].get("labels") or {}).get("k8s-app") == "kube-dns"):
        for deployment in deployments:
            if wanted(deployment) and coredns_image(deployment):
                return deployment
    return None


def corefile_configmap(deployment):
    """Name of the ConfigMap the Deployment mounts its Corefile from, or None."""
    volumes = [v["configMap"] for v in deployment["spec"]["template"]["spec"].get("volumes") or [] if v.get("configMap")]
    for source in volumes:
        if any(item.get("key") == "Corefile" for item in source.get("items") or []):
            return source["name"]
    return next((source["name"] for source in volumes if not source.get("optional")), None)


def detect_provider(client, namespace, deployment, deployments):
    if deployment or client.get("ConfigMap", "coredns", namespace):
        return "coredns"
    if any(d["metadata"]["name"] == "kube-dns" for d in deployments) or client.get("ConfigMap", "kube-dns", namespace):
        return "kube-dns"
    raise ValueError("provider: no CoreDNS (Deployment coredns or labelled k8s-app=kube-dns, ConfigMap coredns) "
                     "and no kube-dns (Deployment or ConfigMap kube-dns) in namespace %s; set provider and "
                     "configmap_name to the cluster's DNS" % namespace)


def plan_edit(params, client, zone, targets):
    """(result facts, ConfigMap name, key, edit(text) -> new text or None for no key, may_create)."""
    namespace, present = params["configmap_namespace"], params["state"] == "present"
    deployments = client.list("Deployment", namespace)
    deployment = coredns_deployment(deployments)
    provider = params["provider"]
    if provider == "auto":
        provider = detect_provider(client, namespace, deployment, deployments)
    facts = {"provider": provider}
    if provider == "kube-dns":
        name, key = params["configmap_name"] or "kube-dns", params["configmap_key"] or kubedns.KEY
        what = "stubDomains of ConfigMap %s/%s" % (namespace, name)

        def edit_stub_domains(text):
            return kubedns.merge(text, zone, targets, what) if present else kubedns.unmerge(text, zone, what)

        return facts, name, key, edit_stub_domains, True
    version = corefile.coredns_version(coredns_image(deployment)) if deployment else None
    facts.update(plugin=corefile.forward_plugin(version),
                 coredns_version=".".join(map(str, version)) if version else None)
    custom = params["custom_configmap"]
    if custom:
        name, key = params["configmap_name"] or "coredns-custom", params["configmap_key"] or zone + ".server"
    else:
        name = params["configmap_name"] or (deployment and corefile_configmap(deployment)) or "coredns"
        key = params["configmap_key"] or "Corefile"
    what = "ConfigMap %s/%s key %s" % (namespace, name, key)

    def edit_corefile(text):
        if present:
            return corefile.upsert(text, zone, targets, facts["plugin"], what)
        return corefile.remove(text, zone, what) or (None if custom else "")  # an emptied custom key goes

    return facts, name, key, edit_corefile, custom


def check_configmap(configmap, namespace, name, present, may_create):
    if configmap is None and not may_create:
        raise ValueError("ConfigMap %s/%s not found: set configmap_name to the ConfigMap the cluster's CoreDNS "
                         "reads its Corefile from" % (namespace, name))
    mode = ((configmap or {}).get("metadata", {}).get("labels") or {}).get(ADDON_MANAGER_LABEL)
    if present and not may_create and mode == "Reconcile":
        raise ValueError("ConfigMap %s/%s is labelled %s=Reconcile: the addon manager would revert the edit; "
                         "set custom_configmap: true to use the coredns-custom ConfigMap instead"
                         % (namespace, name, ADDON_MANAGER_LABEL))


def write(client, configmap, namespace, name, key, value):
    """Change one data key: create a ConfigMap of ours, merge-patch theirs (conditional on the
    resourceVersion read), delete ours when it empties."""
    if configmap is None:
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "data": {key: value},
                       "metadata": {"name": name, "namespace": namespace, "labels": managed_labels()}})
    elif value is None and is_ours(configmap) and set(configmap.get("data") or {}) <= {key}:
        client.delete("ConfigMap", name, namespace)
    else:
        client.merge_patch("ConfigMap", name, namespace,
                           {"metadata": {"resourceVersion": configmap["metadata"]["resourceVersion"]}, "data": {key: value}})


def check_input(params):
    """(zone, target IPs) from mesh_dns's parameters; ValueError naming the parameter."""
    zone = check_dns_name(params["zone"])
    targets = [check_ip(target) for target in params["target_ips"] or []]
    if params["state"] == "present" and not targets:
        raise ValueError("target_ips: at least one IP address is needed to send zone %s to" % zone)
    if params["custom_configmap"] and params["provider"] == "kube-dns":
        raise ValueError("custom_configmap: only CoreDNS imports a coredns-custom ConfigMap, not kube-dns")
    if params["custom_configmap"] and not (params["configmap_key"] or ".server").endswith(".server"):
        raise ValueError("configmap_key: %r must end in .server with custom_configmap (the Corefile imports "
                         "custom/*.server)" % params["configmap_key"])
    return zone, targets


def delegate(client, params, zone, targets, check_mode=False, diff=False):
    """Bring the cluster's DNS to params["state"] for the zone; the module's result."""
    namespace, present = params["configmap_namespace"], params["state"] == "present"
    facts, name, key, edit, may_create = plan_edit(params, client, zone, targets)
    for attempt in range(CONFLICT_RETRIES):
        configmap = client.get("ConfigMap", name, namespace)
        check_configmap(configmap, namespace, name, present, may_create)
        before = ((configmap or {}).get("data") or {}).get(key)
        after = edit(before)
        if not after and not before:  # no key and nothing to put there
            after = before
        if after == before or check_mode:
            break
        try:
            write(client, configmap, namespace, name, key, after)
            break
        except KubeError as exc:  # 409: changed (or created) since it was read; read again
            if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
    header = "ConfigMap %s/%s key %s" % (namespace, name, key)
    result = dict(facts, changed=after != before, configmap="%s/%s" % (namespace, name), configmap_key=key)
    if diff:
        result["diff"] = {"before": before or "", "after": after or "", "before_header": header, "after_header": header}
    return result
