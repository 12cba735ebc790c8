"""mesh_dns's pure parts: which input is refused and which ConfigMap must not be edited (finding the
cluster's CoreDNS and its ConfigMap: test_corefile.py)."""

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils.cluster_dns import check_configmap, check_input


def params(**kw):
    return dict({"zone": "global", "target_ips": ["10.0.0.10"], "state": "present", "provider": "auto",
                 "custom_configmap": False, "configmap_key": None}, **kw)


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
    managed = {"metadata": {"labels": {"addonmanager.kubernetes.io/mode": "Reconcile"}}}
    with pytest.raises(ValueError, match="custom_configmap: true"):
        check_configmap(managed, "kube-system", "coredns", present=True, may_create=False)
    with pytest.raises(ValueError, match="ConfigMap kube-system/coredns not found"):
        check_configmap(None, "kube-system", "coredns", present=True, may_create=False)
    check_configmap(None, "kube-system", "coredns-custom", present=True, may_create=True)
