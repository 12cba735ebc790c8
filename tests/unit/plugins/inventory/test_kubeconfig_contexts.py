import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.plugin_utils.kubeconfig_contexts import (
    KubeconfigInventoryError,
    build_hosts,
    sanitize_name,
)

REPO = Path(__file__).resolve().parents[4]
EKS = "arn:aws:eks:eu-west-1:111122223333:cluster/prod-east"
GKE = "gke_acme_europe-west3_prod-central"


def kubeconfig(directory, filename, *contexts):
    path = directory / filename
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": "https://127.0.0.1:6443"}} for c in contexts],
        "users": [{"name": c, "user": {"token": "x"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }))
    return str(path)


def names(hosts):
    return [(h["mesh_cluster_name"], h["mesh_context"]) for h in hosts]


def problems(*args, **kwargs):
    with pytest.raises(KubeconfigInventoryError) as exc:
        build_hosts(*args, **kwargs)
    return str(exc.value)


def test_every_context_of_every_file_becomes_a_host_in_order(tmp_path):
    a = kubeconfig(tmp_path, "a", "east", "west")
    b = kubeconfig(tmp_path, "b", "central")
    hosts, warnings = build_hosts([a, b])
    assert hosts == [
        {"mesh_cluster_name": "east", "mesh_kubeconfig": a, "mesh_context": "east"},
        {"mesh_cluster_name": "west", "mesh_kubeconfig": a, "mesh_context": "west"},
        {"mesh_cluster_name": "central", "mesh_kubeconfig": b, "mesh_context": "central"},
    ]
    assert warnings == []


@pytest.mark.parametrize("include, exclude, expected", [
    ([], [], ["prod-east", "prod-west", "prod-canary", "dev-east"]),
    (["prod-*"], [], ["prod-east", "prod-west", "prod-canary"]),
    (["prod-*"], ["*-canary"], ["prod-east", "prod-west"]),
    (["~(prod|dev)-east"], [], ["prod-east", "dev-east"]),
    (["~prod"], ["~.*west"], ["prod-east", "prod-canary"]),  # a regex matches from the start of the name
    (["~east"], [], []),
    (["prod-east", "dev-*"], [], ["prod-east", "dev-east"]),
])
def test_include_and_exclude_take_globs_and_regexes(tmp_path, include, exclude, expected):
    path = kubeconfig(tmp_path, "k", "prod-east", "prod-west", "prod-canary", "dev-east")
    hosts, _warnings = build_hosts([path], include, exclude)
    assert [h["mesh_context"] for h in hosts] == expected


def test_an_invalid_regex_names_the_option_and_pattern(tmp_path):
    path = kubeconfig(tmp_path, "k", "east")
    assert "exclude: '~prod-(' is not a valid regular expression" in problems([path], exclude=["~prod-("])


@pytest.mark.parametrize("context, expected", [
    (EKS, "arn-aws-eks-eu-west-1-111122223333-cluster-prod-east"),
    (GKE, "gke-acme-europe-west3-prod-central"),
    ("kubernetes-admin@kubernetes", "kubernetes-admin-kubernetes"),
    ("--Prod__East--", "prod-east"),
    ("x" * 62 + "_y" * 5, "x" * 62),  # cut at 63 characters, no trailing '-'
])
def test_sanitized_names_are_dns_labels(context, expected):
    assert sanitize_name(context) == expected


def test_invalid_names_are_errors_naming_the_context_unless_sanitized(tmp_path):
    path = kubeconfig(tmp_path, "k", EKS, GKE, "west")
    message = problems([path])
    assert "2 problem(s)" in message
    assert "context %r is not a valid cluster name: it must be lowercase letters" % EKS in message
    assert "context %r is not a valid cluster name" % GKE in message
    assert "name it in cluster_names or set sanitize_names: true" in message
    hosts, _warnings = build_hosts([path], sanitize=True)
    assert [h["mesh_cluster_name"] for h in hosts] == [sanitize_name(EKS), sanitize_name(GKE), "west"]


def test_a_context_that_sanitizes_to_nothing_is_an_error(tmp_path):
    path = kubeconfig(tmp_path, "k", "@@@")
    assert "context '@@@' leaves no DNS-1123 label when sanitised" in problems([path], sanitize=True)


def test_cluster_names_map_contexts_and_are_checked(tmp_path):
    path = kubeconfig(tmp_path, "k", EKS, GKE)
    hosts, _warnings = build_hosts([path], cluster_names={EKS: "east", GKE: "central"})
    assert names(hosts) == [("east", EKS), ("central", GKE)]
    message = problems([path], cluster_names={EKS: "East_1", GKE: "central", "gone": "x"})
    assert "cluster_names: context %r maps to 'East_1', which must be lowercase" % EKS in message
    assert "cluster_names: no kubeconfig defines the context 'gone'" in message


def test_two_contexts_with_one_cluster_name_are_an_error_naming_both(tmp_path):
    path = kubeconfig(tmp_path, "k", "prod_east", "prod-east")
    message = problems([path], sanitize=True)
    assert ("contexts 'prod_east' (%s) and 'prod-east' (%s) both make the cluster 'prod-east'" % (path, path)
            in message)
    assert "another name in cluster_names" in message
    message = problems([path], cluster_names={"prod_east": "east", "prod-east": "east"})
    assert "both make the cluster 'east'" in message


def test_one_context_name_in_two_files_is_an_error_suggesting_a_rename(tmp_path):
    a = kubeconfig(tmp_path, "a", "default")
    b = kubeconfig(tmp_path, "b", "default")
    message = problems([a, b])
    assert "contexts 'default' (%s) and 'default' (%s) both make the cluster 'default'" % (a, b) in message
    assert "kubectl config rename-context --kubeconfig %s default NEW-NAME" % b in message


def test_unreadable_kubeconfigs_are_all_reported(tmp_path):
    (tmp_path / "bad").write_text("contexts: [unclosed")
    (tmp_path / "empty").write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    message = problems([str(tmp_path / "missing"), str(tmp_path / "bad"), str(tmp_path / "empty")],
                       cluster_names={"unknown": "x"})
    assert "3 problem(s)" in message  # cluster_names is not checked against files that could not be read
    assert "kubeconfig %s: no such file" % (tmp_path / "missing") in message
    assert "kubeconfig %s: cannot be read as YAML" % (tmp_path / "bad") in message
    assert "kubeconfig %s: expected a kubeconfig with a list 'contexts'" % (tmp_path / "empty") in message


def test_host_vars_are_added_by_cluster_name_and_unknown_names_warned(tmp_path):
    path = kubeconfig(tmp_path, "k", "east", "west")
    host_vars = {"east": {"mesh_network": "net-east", "mesh_context": "ignored"}, "north": {}}
    hosts, warnings = build_hosts([path], host_vars=host_vars)
    assert hosts[0] == {"mesh_network": "net-east", "mesh_cluster_name": "east", "mesh_kubeconfig": path,
                        "mesh_context": "east"}
    assert warnings == ["host_vars: 'north' is not a host of this inventory (hosts: east, west)"]
    assert "host_vars: 'east' must be a mapping of variables" in problems([path], host_vars={"east": "net"})


# End to end: ansible-inventory with the plugin, as a user runs it.

def ansible_inventory(config_dir, config, env=None):
    """ansible-inventory --list of a plugin configuration written to config_dir."""
    path = config_dir / "kubeconfig_contexts.yml"
    path.write_text(yaml.safe_dump(dict({"plugin": "meshops.multicluster.kubeconfig_contexts"}, **config)))
    return run_inventory(path, env)


def run_inventory(source, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "K8S_AUTH_KUBECONFIG"}
    environment.update(env or {}, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
                       ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true")
    return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-inventory"), "-i", str(source), "--list"],
                          capture_output=True, text=True, env=environment, cwd=Path(source).parent, check=False)


def contexts_by_host(proc):
    assert proc.returncode == 0, proc.stderr
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    return {host: unsafe(v["mesh_context"]) for host, v in hostvars.items()}


def unsafe(value):
    """The string of a value ansible-inventory marks as not to be templated."""
    return value["__ansible_unsafe"] if isinstance(value, dict) else value


def test_ansible_inventory_lists_the_fleet_with_constructed_vars_and_groups(tmp_path):
    eks = kubeconfig(tmp_path, "eks.yaml", EKS, "arn:aws:eks:us-west-2:111122223333:cluster/prod-west")
    gke = kubeconfig(tmp_path, "gke.yaml", GKE, "gke_acme_europe-west3_dev")
    proc = ansible_inventory(tmp_path, {
        "kubeconfigs": [eks, gke],
        "exclude": ["*_dev"],
        "cluster_names": {EKS: "east"},
        "sanitize_names": True,
        "host_vars": {"east": {"mesh_locality": "eu-west-1/a"}},
        "compose": {"mesh_network": "'net-' ~ mesh_cluster_name"},
        "keyed_groups": [{"prefix": "kubeconfig", "key": "mesh_kubeconfig | basename | splitext | first"}],
    })
    assert proc.returncode == 0, proc.stderr
    inventory = json.loads(proc.stdout)
    west = "arn-aws-eks-us-west-2-111122223333-cluster-prod-west"
    central = "gke-acme-europe-west3-prod-central"
    assert inventory["mesh_clusters"]["hosts"] == ["east", west, central]
    assert inventory["kubeconfig_eks"]["hosts"] == ["east", west]
    assert inventory["kubeconfig_gke"]["hosts"] == [central]
    east = inventory["_meta"]["hostvars"]["east"]
    assert east["ansible_connection"] == "local"
    assert east["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"  # trusted: templated at run time
    assert east["mesh_locality"] == "eu-west-1/a"
    plain = {k: unsafe(v) for k, v in east.items()}
    assert plain["mesh_context"] == EKS and plain["mesh_kubeconfig"] == eks
    assert plain["mesh_cluster_name"] == "east" and plain["mesh_network"] == "net-east"


def test_ansible_inventory_reads_k8s_auth_kubeconfig_and_names_the_group(tmp_path):
    a = kubeconfig(tmp_path, "a", "east")
    b = kubeconfig(tmp_path, "b", "west")
    proc = ansible_inventory(tmp_path, {"group": "fleet"}, env={"K8S_AUTH_KUBECONFIG": "%s:%s" % (a, b)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["fleet"]["hosts"] == ["east", "west"]


def test_ansible_inventory_fails_naming_the_problem(tmp_path):
    path = kubeconfig(tmp_path, "k", "Prod_East")
    proc = ansible_inventory(tmp_path, {"kubeconfigs": [path]})
    assert proc.returncode != 0
    assert "context 'Prod_East' is not a valid cluster name" in proc.stderr


def test_the_example_fleet_is_the_same_from_hosts_yml_and_from_kubeconfig_contexts(tmp_path):
    example = REPO / "inventory" / "example"
    static = contexts_by_host(run_inventory(example / "hosts.yml"))
    assert sorted(static) == ["central", "east", "west"]
    fleet = kubeconfig(tmp_path, "fleet.yaml", *static.values(), "gke_acme-prod_us-west1_mesh-west-staging", "dev")
    config = yaml.safe_load((example / "kubeconfig_contexts.yml").read_text())
    config["kubeconfigs"] = [fleet]
    assert contexts_by_host(ansible_inventory(tmp_path, config)) == static


# Nothing read from a kubeconfig is ever templated (issue #20, finding 4): context names are data.

PAYLOAD = "{{ lookup('pipe', 'touch %s') }}"
PLAYBOOK = """
- hosts: mesh_clusters
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "context={{ mesh_context }} file={{ mesh_kubeconfig }} network={{ mesh_network }}"
    - ansible.builtin.set_fact:
        copied_context: "{{ mesh_context }}"
    - ansible.builtin.debug:
        msg: "copied={{ copied_context }} names={{ groups['mesh_clusters'] | meshops.multicluster.cluster_names(hostvars) }}"
"""


def test_a_context_named_like_a_template_is_never_run_by_ansible_inventory_or_ansible_playbook(tmp_path):
    mapped = "prod" + PAYLOAD % "marker-mapped"
    sanitized = "dev" + PAYLOAD % "marker-sanitized"
    path = kubeconfig(tmp_path, "k" + PAYLOAD % "marker-file" + ".yaml", mapped, sanitized)
    config = {"kubeconfigs": [path], "cluster_names": {mapped: "prod"}, "sanitize_names": True,
              "compose": {"mesh_network": "mesh_context"}}
    listed = ansible_inventory(tmp_path, config)
    assert contexts_by_host(listed)["prod"] == mapped
    assert sanitize_name(sanitized) in contexts_by_host(listed)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"))
    environment.pop("K8S_AUTH_KUBECONFIG", None)
    played = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "kubeconfig_contexts.yml",
                             "play.yml"], capture_output=True, text=True, env=environment, cwd=tmp_path, check=False)
    assert played.returncode == 0, played.stdout + played.stderr
    assert "copied=" + mapped in played.stdout and "context=" + sanitized in played.stdout
    assert sorted(p.name for p in tmp_path.glob("marker-*")) == [], "a payload ran on the controller"


def test_no_ansible_core_that_templates_inventory_strings_is_allowed():
    """ansible-core before 2.19 templates every string an inventory plugin sets (2.17 and 2.18 are
    past their end of life): meta/runtime.yml allows only versions the test above runs on."""
    from ansible.module_utils.compat.version import LooseVersion
    import ansible.release
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    minimum = runtime["requires_ansible"].removeprefix(">=")
    assert LooseVersion(minimum) >= LooseVersion("2.19.0"), runtime["requires_ansible"]
    assert LooseVersion(ansible.release.__version__) >= LooseVersion(minimum)
