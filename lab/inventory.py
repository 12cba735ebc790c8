"""The Ansible inventory of the running lab: group mesh_clusters, one host per cluster."""

from __future__ import annotations

import yaml

from .build import ensure_istio_charts
from .config import inventory_dir, state_dir

# A lab without its network namespace (lab/netns.py: not root) gives pods loopback addresses, which
# Kubernetes refuses as endpoints: no EndpointSlice holds an address, so the trace's hop 8 (ready
# endpoints) cannot be judged there.
WITHOUT_ENDPOINTS = {"mesh_trace_ready_endpoints": False}


def write_inventory(state) -> None:
    hosts = {
        c.name: {
            "mesh_context": c.name,
            "mesh_network": f"network{c.index}",
            "mesh_locality": c.locality,
            # The lab's cluster DNS listens on a loopback ClusterIP the controller can query.
            "mesh_verify_dns_server": c.dns_ip,
        }
        for c in state.clusters
    }
    doc = {
        "mesh_clusters": {
            "hosts": hosts,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "mesh_kubeconfig": state.kubeconfig,
                # The lab installs Istio from a local chart directory, as an air-gapped site would.
                "mesh_istio_chart_source": str(ensure_istio_charts()),
                # The release the lab resolved among the served candidates (lab/versions.toml).
                "mesh_istio_version": state.istio_release,
                "mesh_helm_binary": state.binaries["helm"],
                # The lab's root CA lives and dies with the lab, outside the repository.
                "mesh_ca_root_dir": str(state_dir() / "mesh-ca"),
                "mesh_verify_report_dir": str(state_dir() / "reports"),
                **({} if state.netns else WITHOUT_ENDPOINTS),
            },
        }
    }
    header = "# Written by `python -m lab up`; removed by `python -m lab down`. Do not edit.\n"
    path = inventory_dir() / "hosts.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False))


def remove_inventory() -> None:
    (inventory_dir() / "hosts.yml").unlink(missing_ok=True)
