# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the control_plane role may install a cluster: it installs and keeps one revision (the
fleet's) and points every tag at it; a cluster that runs something else is the upgrade's to move."""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    DEFAULT_TAG, LEGACY_REVISION, istiod_name)

UPGRADE = "run playbooks/upgrade.yml, which moves a cluster from the revision it runs to mesh_istio_revision"


def install_model_problem(revision, legacy_release, tags_before, cluster="this cluster"):
    """Why site.yml must not touch the cluster, or None.

    revision: the fleet's (mesh_cluster.revision); legacy_release: helm_release_info's entry of the
    release `istiod` (version null when not installed); tags_before: mesh_revision_tags' tags_before."""
    version = (legacy_release or {}).get("version")
    if version:
        return ("%s runs Istio in place (Helm release %s, chart %s, revision %s), not revision %s: site.yml does not "
                "change it; %s (it adopts the in-place install once)"
                % (cluster, istiod_name(LEGACY_REVISION), version, LEGACY_REVISION, revision, UPGRADE))
    running = ((tags_before or {}).get(DEFAULT_TAG) or {}).get("revision")
    if running and running != revision:
        return ("%s runs revision %s (its default tag points at it), not mesh_istio_revision=%s: site.yml does not "
                "move it; %s" % (cluster, running, revision, UPGRADE))
    return None
