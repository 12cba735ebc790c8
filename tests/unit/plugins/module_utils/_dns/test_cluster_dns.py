"""mesh_dns's logic in one cluster, against a small fake client: which input is refused, which
ConfigMap must not be edited, the complete configuration CoreDNS reads (the Corefile and the
coredns-custom keys it imports) checked before any write, and the block moved between the two
places in one run (finding the cluster's CoreDNS and its ConfigMap: test_corefile.py)."""

import copy
from pathlib import Path

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.cluster_dns import (
    Edit, Place, check_configmap, check_input, conf_path, delegate)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels

CORPUS = Path(__file__).parent / "data" / "corefiles"
K3S_COREFILE = (CORPUS / "k3s.Corefile").read_text()
AKS_COREFILE = (CORPUS / "aks.Corefile").read_text()
KUBEADM_COREFILE = (CORPUS / "kubeadm.Corefile").read_text()
ZONE_SERVER = "10.43.0.20"
# What coredns-custom holds after a run with custom_configmap: true.
OUR_SERVER_KEY = corefile.upsert("", "global", [ZONE_SERVER])


def params(**kw):
    return dict({"zone": "global", "target_ips": ["10.0.0.10"], "state": "present", "provider": "auto",
                 "custom_configmap": False, "configmap_key": None, "configmap_name": None,
                 "configmap_namespace": "kube-system"}, **kw)


def k3s_deployment(conf_args=("-conf", "/etc/coredns/Corefile")):
    """k3s's CoreDNS Deployment (manifests/coredns.yaml): coredns-custom mounted at /etc/coredns/custom."""
    return {"metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"template": {"spec": {
                "containers": [{"name": "coredns", "image": "rancher/mirrored-coredns-coredns:1.11.3",
                                "args": list(conf_args),
                                "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns"},
                                                 {"name": "custom-config-volume", "mountPath": "/etc/coredns/custom"}]}],
                "volumes": [{"name": "config-volume", "configMap": {"name": "coredns", "items": [
                    {"key": "Corefile", "path": "Corefile"}, {"key": "NodeHosts", "path": "NodeHosts"}]}},
                    {"name": "custom-config-volume", "configMap": {"name": "coredns-custom", "optional": True}}]}}}}


class FakeClient:
    """ConfigMaps and Deployments of kube-system, with resourceVersions and the write calls counted.
    With check_mode, as KubeClient: writes are recorded (in `writes`) and change nothing."""

    def __init__(self, configmaps, deployments=(), check_mode=False):
        self.objects = {name: {"metadata": {"name": name, "namespace": "kube-system", "resourceVersion": "1",
                                            "labels": labels}, "data": dict(data)}
                        for name, (data, labels) in configmaps.items()}
        self.deployments = list(deployments)
        self.writes, self.recorded, self.check_mode = [], [], check_mode

    def get(self, kind, name, namespace=None):
        return copy.deepcopy(self.objects.get(name)) if kind == "ConfigMap" else None

    def list(self, kind, namespace=None):
        return copy.deepcopy(self.deployments) if kind == "Deployment" else []

    def _sent(self, verb, name):
        """Whether a write is made (else recorded, in check mode)."""
        (self.recorded if self.check_mode else self.writes).append((verb, name))
        return not self.check_mode

    def create(self, obj):
        if not self._sent("create", obj["metadata"]["name"]):
            return
        self.objects[obj["metadata"]["name"]] = dict(copy.deepcopy(obj), metadata=dict(obj["metadata"], resourceVersion="1"))

    def merge_patch(self, kind, name, namespace, patch):
        if not self._sent("patch", name):
            return
        obj = self.objects[name]
        assert patch["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
        for key, value in patch["data"].items():
            obj["data"].pop(key, None) if value is None else obj["data"].__setitem__(key, value)
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)

    def delete(self, kind, name, namespace=None):
        if not self._sent("delete", name):
            return
        del self.objects[name]

    def data(self, name):
        return (self.objects.get(name) or {}).get("data")


def k3s_cluster(custom_data=None, corefile_text=K3S_COREFILE, custom_labels=None):
    configmaps = {"coredns": ({"Corefile": corefile_text, "NodeHosts": "10.0.0.1 node1\n"}, {})}
    if custom_data is not None:
        configmaps["coredns-custom"] = (custom_data, custom_labels if custom_labels is not None else managed_labels())
    return FakeClient(configmaps, [k3s_deployment()])


def run(client, **kw):
    p = params(target_ips=[ZONE_SERVER], **kw)
    zone, targets = check_input(p)
    return delegate(client, p, zone, targets, diff=True)


def served(client):
    """(zone, port) -> where, over the Corefile and the coredns-custom keys it imports."""
    sources = [("Corefile", client.data("coredns")["Corefile"])]
    sources += sorted((key, text) for key, text in (client.data("coredns-custom") or {}).items() if key.endswith(".server"))
    return corefile.zone_places(sources)


@pytest.mark.parametrize("bad, message", [
    ({"zone": "bad zone"}, "zone: 'bad zone' is not a DNS name"),
    ({"target_ips": ["ten"]}, "target_ips"),
    ({"target_ips": []}, "target_ips: at least one IP address"),
    ({"custom_configmap": True, "provider": "kube-dns"}, "custom_configmap: only CoreDNS"),
    ({"custom_configmap": True, "configmap_key": "global"}, "configmap_key: 'global' must end in .server"),
])
def test_bad_input_names_the_parameter(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        check_input(params(**bad))


def test_valid_input_is_normalised():
    assert check_input(params(zone="Global.")) == ("global", ["10.0.0.10"])


def test_a_configmap_the_addon_manager_reconciles_is_not_edited():
    managed = {"metadata": {"labels": {"addonmanager.kubernetes.io/mode": "Reconcile"}}, "data": {"Corefile": ""}}
    corefile_edit = Edit(Place("kube-system", "coredns", "Corefile"), str, required=True, adds=True)
    with pytest.raises(ValueError, match="custom_configmap: true"):
        check_configmap(managed, corefile_edit, present=True)
    with pytest.raises(ValueError, match="ConfigMap kube-system/coredns not found"):
        check_configmap(None, corefile_edit, present=True)
    check_configmap(None, Edit(Place("kube-system", "coredns-custom", "global.server"), str, may_create=True, adds=True),
                    present=True)


def test_switching_custom_configmap_off_moves_the_block_into_the_corefile():
    """Finding 3 of issue #20: the block stayed in coredns-custom and a second went into the Corefile."""
    client = k3s_cluster({"global.server": OUR_SERVER_KEY})
    result = run(client)
    assert result["changed"] and result["changed_places"] == [
        "ConfigMap kube-system/coredns-custom key global.server", "ConfigMap kube-system/coredns key Corefile"]
    assert client.writes == [("delete", "coredns-custom"), ("patch", "coredns")]  # removal first
    assert served(client)[("global", 53)] == ["Corefile line 2"]
    assert corefile.remove(client.data("coredns")["Corefile"], "global") == K3S_COREFILE
    assert run(client)["changed"] is False and len(client.writes) == 2


def test_switching_custom_configmap_on_moves_the_block_out_of_the_corefile_byte_exact():
    client = k3s_cluster({"mine.server": "example.org {\n    forward . 10.0.0.53\n}\n"}, custom_labels={})
    run(client)
    result = run(client, custom_configmap=True)
    assert result["changed"] and (result["configmap"], result["configmap_key"]) == ("kube-system/coredns-custom",
                                                                                    "global.server")
    assert client.data("coredns")["Corefile"] == K3S_COREFILE
    assert client.data("coredns-custom") == {"mine.server": "example.org {\n    forward . 10.0.0.53\n}\n",
                                             "global.server": OUR_SERVER_KEY}
    assert served(client)[("global", 53)] == ["global.server line 2"]
    run(client, state="absent")
    assert client.data("coredns")["Corefile"] == K3S_COREFILE
    assert client.data("coredns-custom") == {"mine.server": "example.org {\n    forward . 10.0.0.53\n}\n"}


def test_check_mode_writes_nothing_and_the_diff_shows_both_configmaps():
    client = k3s_cluster({"global.server": OUR_SERVER_KEY})
    client.check_mode = True
    result = run(client)
    assert result["changed"] and client.writes == []
    assert client.recorded == [("delete", "coredns-custom"), ("patch", "coredns")]  # asked once, in write order
    diffs = {d["before_header"]: d for d in result["diff"]}
    assert diffs["ConfigMap kube-system/coredns-custom key global.server"]["before"] == OUR_SERVER_KEY
    assert diffs["ConfigMap kube-system/coredns-custom key global.server"]["after"] == ""
    assert diffs["ConfigMap kube-system/coredns key Corefile"]["after"].endswith(K3S_COREFILE)


@pytest.mark.parametrize("custom", [False, True])
def test_a_zone_defined_twice_is_refused_naming_both_places(custom):
    theirs = "global:53 {\n    forward . 10.9.9.9\n}\n"
    client = k3s_cluster({"theirs.server": theirs}, custom_labels={})
    with pytest.raises(ValueError) as refused:
        run(client, custom_configmap=custom)
    where = "ConfigMap kube-system/coredns-custom key global.server" if custom else "ConfigMap kube-system/coredns key Corefile"
    assert "zone global port 53 is defined in %s line 2 and in ConfigMap kube-system/coredns-custom key " \
           "theirs.server line 1" % where in str(refused.value)
    assert "nothing was written" in str(refused.value) and client.writes == []


def test_a_corefile_of_theirs_that_defines_the_zone_is_not_changed():
    theirs = "global:53 {\n    forward . 10.9.9.9\n}\n" + K3S_COREFILE
    client = k3s_cluster(corefile_text=theirs)
    with pytest.raises(ValueError, match="already serves zone global on port 53 .* remove that block"):
        run(client)
    with pytest.raises(ValueError, match="zone global port 53 is defined in ConfigMap kube-system/coredns key Corefile "
                                         "line 1 and in ConfigMap kube-system/coredns-custom key global.server line 2"):
        run(client, custom_configmap=True)
    assert client.writes == []


def test_relative_imports_are_read_from_the_corefile_directory():
    """AKS: `import custom/*.server`, the Corefile at /etc/coredns/Corefile."""
    client = k3s_cluster({"global.server": "global {\n    forward . 10.9.9.9\n}\n"}, corefile_text=AKS_COREFILE,
                         custom_labels={})
    with pytest.raises(ValueError, match="coredns-custom key global.server line 1"):
        run(client)
    with pytest.raises(ValueError, match="already serves zone global"):
        run(client, custom_configmap=True)


def test_a_custom_key_the_corefile_does_not_import_is_refused():
    client = k3s_cluster({}, corefile_text=KUBEADM_COREFILE)
    with pytest.raises(ValueError, match="key global.server is not read by CoreDNS: no import of ConfigMap "
                                         "kube-system/coredns key Corefile matches it.*custom_configmap: false"):
        run(client, custom_configmap=True)
    assert client.writes == []


@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_corefile_configmap_without_the_corefile_key_gets_no_invented_corefile(state):
    client = FakeClient({"coredns": ({"NodeHosts": "10.0.0.1 node1\n"}, {})}, [k3s_deployment()])
    if state == "present":
        with pytest.raises(ValueError, match="ConfigMap kube-system/coredns has no key Corefile: .* it does not write "
                                             "one; nothing was written. Set configmap_name and configmap_key"):
            run(client)
    else:
        assert run(client, state="absent")["changed"] is False
    assert client.writes == [] and client.data("coredns") == {"NodeHosts": "10.0.0.1 node1\n"}


@pytest.mark.parametrize("args, path", [
    ([], "/etc/coredns/Corefile"),
    (["-conf", "/etc/coredns/Corefile"], "/etc/coredns/Corefile"),
    (["-conf=/cfg/Corefile", "-dns.port=53"], "/cfg/Corefile"),
    (["--conf", "/x/Corefile"], "/x/Corefile"),
])
def test_the_corefile_path_comes_from_the_conf_argument(args, path):
    assert conf_path({"args": args}) == path
