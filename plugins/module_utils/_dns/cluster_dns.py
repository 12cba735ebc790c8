# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mesh_dns does in one cluster: find its DNS (CoreDNS or kube-dns, and the ConfigMap it
reads), then add, update or remove the delegation of one zone - a marked block of a Corefile,
a coredns-custom key, or a kube-dns stub domain - touching nothing else of that ConfigMap.

Check mode is the client's: it records the writes, this code runs the same.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import kubedns
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import check_dns_name, check_ip
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import is_ours, managed_labels

ADDON_MANAGER_LABEL = "addonmanager.kubernetes.io/mode"
CONFLICT_RETRIES = 3
DEFAULT_CONF = "/etc/coredns/Corefile"


def coredns_container(deployment):
    """The first container of the Deployment that runs a CoreDNS image, or None."""
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        if "coredns" in container.get("image", "").rsplit("/", 1)[-1]:
            return container
    return None


def coredns_image(deployment):
    """The image of the Deployment's CoreDNS container, or None."""
    return (coredns_container(deployment) or {}).get("image")


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
    raise InputError("provider: no CoreDNS (Deployment coredns or labelled k8s-app=kube-dns, ConfigMap coredns) "
                     "and no kube-dns (Deployment or ConfigMap kube-dns) in namespace %s; set provider and "
                     "configmap_name to the cluster's DNS" % namespace, field="provider")


@dataclass(frozen=True)
class Place:
    """One data key of one ConfigMap: where the delegation can live."""

    namespace: str
    name: str
    key: str

    def __str__(self):
        return "ConfigMap %s/%s key %s" % (self.namespace, self.name, self.key)


@dataclass
class Edit:
    """What to do to one place: change(text or None) -> text or None (no key)."""

    place: Place
    change: Callable
    may_create: bool = False  # a ConfigMap of ours may be created for it (coredns-custom, kube-dns)
    required: bool = False  # the key must be there (the Corefile the block is checked against)
    adds: bool = False  # the edit puts the delegation here


def coredns_places(params, deployment, zone):
    """(Corefile, coredns-custom key): the two places the CoreDNS delegation can live in; configmap_name
    and configmap_key name the one custom_configmap chooses."""
    namespace, custom = params["configmap_namespace"], params["custom_configmap"]
    chosen = {"name": params["configmap_name"], "key": params["configmap_key"]}
    main = Place(namespace, (not custom and chosen["name"]) or (deployment and corefile_configmap(deployment)) or "coredns",
                 (not custom and chosen["key"]) or "Corefile")
    extra = Place(namespace, (custom and chosen["name"]) or "coredns-custom", (custom and chosen["key"]) or zone + ".server")
    return main, extra


def coredns_edits(params, main, extra, zone, targets, plugin):
    """The edits of both places, removals first: switching custom_configmap moves the block in one run,
    and a moment without the delegation is all a failed second write can leave - never a zone twice."""
    present, custom = params["state"] == "present", params["custom_configmap"]

    def from_corefile(text):
        return None if text is None else corefile.remove(text, zone, str(main))

    def from_custom(text):
        return corefile.remove(text, zone, str(extra)) or None  # an emptied custom key goes

    def to(place):
        return lambda text: corefile.upsert(text, zone, targets, plugin, str(place))

    edits = {main: Edit(main, from_corefile, required=present), extra: Edit(extra, from_custom, may_create=True)}
    target = extra if custom else main
    if present:
        edits[target].change, edits[target].adds = to(target), True
    return sorted(edits.values(), key=lambda edit: edit.adds)


def conf_path(container):
    """The Corefile's path in the CoreDNS container (its -conf argument)."""
    args = list((container or {}).get("command") or []) + list((container or {}).get("args") or [])
    for i, arg in enumerate(args):
        name, _eq, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name == "conf":
            return value or (args[i + 1] if i + 1 < len(args) else DEFAULT_CONF)
    return DEFAULT_CONF


def configmap_mounts(container, volumes, main, extra):
    """{directory: (ConfigMap name, {file: key}, or None for all its keys)} the CoreDNS container mounts;
    the k3s and AKS layout (Corefile in /etc/coredns, coredns-custom in /etc/coredns/custom) when no
    Deployment says."""
    sources = {volume["name"]: volume["configMap"] for volume in volumes or [] if volume.get("configMap")}
    mounts = {}
    for mount in (container or {}).get("volumeMounts") or []:
        source = sources.get(mount["name"])
        if source and not mount.get("subPath"):
            items = {item.get("path", item["key"]): item["key"] for item in source.get("items") or []}
            mounts[posixpath.normpath(mount["mountPath"])] = (source["name"], items or None)
    return mounts or {posixpath.dirname(DEFAULT_CONF): (main.name, {"Corefile": main.key}),
                      posixpath.dirname(DEFAULT_CONF) + "/custom": (extra.name, None)}


def imported_files(pattern, conf, mounts, namespace, data_of):
    """[(Place, text)] of the ConfigMap keys the import pattern matches in the container (CoreDNS reads
    a relative pattern from the Corefile's directory)."""
    directory, glob = posixpath.split(posixpath.normpath(posixpath.join(posixpath.dirname(conf), pattern)))
    if directory not in mounts:
        return []  # not a ConfigMap the collection knows (or a snippet)
    name, files = mounts[directory]
    data = data_of(name)
    files = files or {key: key for key in data}
    return [(Place(namespace, name, key), data[key])
            for file, key in sorted(files.items()) if fnmatchcase(file, glob) and key in data]


def check_served_once(deployment, main, extra, zone, custom, data_of):
    """The complete configuration CoreDNS will read - the Corefile and the files it imports from the
    ConfigMaps it mounts - serves each zone and port once, and includes our custom key when that is
    where the block goes; ValueError naming the places otherwise."""
    container = coredns_container(deployment) if deployment else None
    volumes = deployment["spec"]["template"]["spec"].get("volumes") if deployment else None
    conf, mounts = conf_path(container), configmap_mounts(container, volumes, main, extra)
    text = data_of(main.name)[main.key]
    sources = [(str(main), text)]
    for pattern in corefile.imports(text):
        sources += [(str(place), content) for place, content in imported_files(pattern, conf, mounts, main.namespace, data_of)]
    if custom and str(extra) not in dict(sources):
        raise InputError("%s is not read by CoreDNS: no import of %s matches it where the CoreDNS Deployment mounts "
                         "ConfigMap %s; nothing was written. Add `import /etc/coredns/custom/*.server` to the Corefile "
                         "(outside any server block) and mount %s there, or set custom_configmap: false"
                         % (extra, main, extra.name, extra.name), field="custom_configmap")
    twice = corefile.zones_defined_twice(sources)
    if twice:
        raise InputError("CoreDNS would refuse to start: %s; nothing was written. Remove the block that is not the "
                         "collection's (ours is between the lines '%s' and '%s'), or keep it and leave the zone to it "
                         "(mesh_dns_mode: sidecar_proxy)" % (
                             "; ".join("zone %s port %d is defined in %s" % (zone, port, " and in ".join(where))
                                       for (zone, port), where in sorted(twice.items())),
                             corefile.MARKER_BEGIN % zone, corefile.MARKER_END % zone))


def plan_edit(params, client, zone, targets):
    """(result facts, edits in write order, check(data_of) of the complete result before any write)."""
    namespace, present = params["configmap_namespace"], params["state"] == "present"
    deployments = client.list("Deployment", namespace)
    deployment = coredns_deployment(deployments)
    provider = params["provider"]
    if provider == "auto":
        provider = detect_provider(client, namespace, deployment, deployments)
    facts = {"provider": provider}
    if provider == "kube-dns":
        place = Place(namespace, params["configmap_name"] or "kube-dns", params["configmap_key"] or kubedns.KEY)

        def edit_stub_domains(text):
            return kubedns.merge(text, zone, targets, str(place)) if present else kubedns.unmerge(text, zone, str(place))

        return facts, [Edit(place, edit_stub_domains, may_create=True, adds=present)], lambda data_of: None
    version = corefile.coredns_version(coredns_image(deployment)) if deployment else None
    facts.update(plugin=corefile.forward_plugin(version),
                 coredns_version=".".join(map(str, version)) if version else None)
    main, extra = coredns_places(params, deployment, zone)

    def check_result(data_of):
        if present:
            check_served_once(deployment, main, extra, zone, params["custom_configmap"], data_of)

    return facts, coredns_edits(params, main, extra, zone, targets, facts["plugin"]), check_result


def check_configmap(configmap, edit, present):
    place = edit.place
    if configmap is None and (edit.required or (edit.adds and not edit.may_create)):
        raise InputError("ConfigMap %s/%s not found: set configmap_name to the ConfigMap the cluster's CoreDNS "
                         "reads its Corefile from" % (place.namespace, place.name), field="configmap_name")
    if edit.required and place.key not in ((configmap or {}).get("data") or {}):
        raise InputError("ConfigMap %s/%s has no key %s: the collection edits the cluster's Corefile, it does not "
                         "write one; nothing was written. Set configmap_name and configmap_key (mesh_dns_configmap_name, "
                         "mesh_dns_configmap_key) to the ConfigMap and key the cluster's CoreDNS reads its Corefile from"
                         % (place.namespace, place.name, place.key), field="configmap_key")
    mode = ((configmap or {}).get("metadata", {}).get("labels") or {}).get(ADDON_MANAGER_LABEL)
    if present and edit.adds and not edit.may_create and mode == "Reconcile":
        raise InputError("ConfigMap %s/%s is labelled %s=Reconcile: the addon manager would revert the edit; "
                         "set custom_configmap: true to use the coredns-custom ConfigMap instead"
                         % (place.namespace, place.name, ADDON_MANAGER_LABEL), field="custom_configmap")


def write(client, configmap, place, value):
    """Change one data key: create a ConfigMap of ours, merge-patch theirs (conditional on the
    resourceVersion read), delete ours when it empties."""
    if configmap is None:
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "data": {place.key: value},
                       "metadata": {"name": place.name, "namespace": place.namespace, "labels": managed_labels()}})
    elif value is None and is_ours(configmap) and set(configmap.get("data") or {}) <= {place.key}:
        client.delete("ConfigMap", place.name, place.namespace)
    else:
        client.merge_patch("ConfigMap", place.name, place.namespace,
                           {"metadata": {"resourceVersion": configmap["metadata"]["resourceVersion"]},
                            "data": {place.key: value}})


def check_input(params):
    """(zone, target IPs) from mesh_dns's parameters; InputError naming the parameter."""
    zone = check_dns_name(params["zone"])
    targets = [check_ip(target) for target in params["target_ips"] or []]
    if params["state"] == "present" and not targets:
        raise InputError("target_ips: at least one IP address is needed to send zone %s to" % zone, field="target_ips")
    if params["custom_configmap"] and params["provider"] == "kube-dns":
        raise InputError("custom_configmap: only CoreDNS imports a coredns-custom ConfigMap, not kube-dns", field="custom_configmap")
    if params["custom_configmap"] and not (params["configmap_key"] or ".server").endswith(".server"):
        raise InputError("configmap_key: %r must end in .server with custom_configmap (the Corefile imports "
                         "custom/*.server)" % params["configmap_key"], field="configmap_key")
    return zone, targets


def read_and_edit(client, edits, present, check_result):
    """(ConfigMaps read, {place: (before, after)}) with the complete result checked; nothing written."""
    configmaps, texts = {}, {}

    def configmap(name):
        if name not in configmaps:
            configmaps[name] = client.get("ConfigMap", name, edits[0].place.namespace)
        return configmaps[name]

    for edit in edits:
        place = edit.place
        check_configmap(configmap(place.name), edit, present)
        before = ((configmap(place.name) or {}).get("data") or {}).get(place.key)
        after = edit.change(before)
        texts[place] = (before, before if not after and not before else after)  # no key and nothing to put there

    def data_of(name):  # a ConfigMap's data as it will be after the edits
        data = dict((configmap(name) or {}).get("data") or {})
        for place, (_before, after) in texts.items():
            if place.name == name and after is None:
                data.pop(place.key, None)
            elif place.name == name:
                data[place.key] = after
        return data

    check_result(data_of)
    return configmaps, texts


def delegate(client, params, zone, targets, diff=False):
    """Bring the cluster's DNS to params["state"] for the zone; the module's result."""
    present = params["state"] == "present"
    facts, edits, check_result = plan_edit(params, client, zone, targets)
    for attempt in range(CONFLICT_RETRIES):
        configmaps, texts = read_and_edit(client, edits, present, check_result)
        changed = [edit.place for edit in edits if texts[edit.place][0] != texts[edit.place][1]]
        if not changed:
            break
        try:
            for place in changed:
                write(client, configmaps[place.name], place, texts[place][1])
            break
        except KubeError as exc:  # 409: changed (or created) since it was read; read again
            if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
    target = next((edit.place for edit in edits if edit.adds), edits[0].place)
    result = dict(facts, changed=bool(changed), configmap="%s/%s" % (target.namespace, target.name),
                  configmap_key=target.key, changed_places=[str(place) for place in changed])
    if diff:
        result["diff"] = [{"before": texts[edit.place][0] or "", "after": texts[edit.place][1] or "",
                           "before_header": str(edit.place), "after_header": str(edit.place)} for edit in edits]
    return result
