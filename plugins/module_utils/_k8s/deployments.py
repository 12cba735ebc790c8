# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether Deployments are Available with all their replicas updated (what the steps wait for)."""

from __future__ import annotations


def deployments_waiting(client, deployments):
    """["Deployment <namespace>/<name>: why"] for each (namespace, name) not Available yet."""
    return ["Deployment %s/%s: %s" % (namespace, name, why) for namespace, name in deployments
            for why in [deployment_not_ready(client.get("Deployment", name, namespace))] if why]


def deployment_not_ready(deployment):
    """Why a Deployment is not Available with all replicas updated, or None when it is."""
    if deployment is None:
        return "does not exist"
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    available = any(c.get("type") == "Available" and c.get("status") == "True" for c in status.get("conditions") or [])
    if not available or status.get("availableReplicas", 0) < wanted or status.get("updatedReplicas", 0) < wanted:
        return "%s of %s replicas available" % (status.get("availableReplicas", 0), wanted)
    return None
