# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of mesh_trace: in Ansible's worker process where it can (plugins/plugin_utils/in_worker.py)."""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.plugin_utils.in_worker import ActionModule

__all__ = ["ActionModule"]
