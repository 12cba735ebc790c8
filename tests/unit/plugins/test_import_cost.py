# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a task's process imports (issue 26): Ansible imports every filter file of the collection to find
one filter by name, in each task's process, and every module compiles what it imports from the AnsiballZ
zip. Neither may pull in the Kubernetes client, the certificate library or the fleet check unless it uses them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGE = "ansible_collections.meshops.multicluster.plugins"
HEAVY = ("urllib3", "yaml", "cryptography",
         PACKAGE + ".module_utils._k8s.client", PACKAGE + ".module_utils._access.permissions",
         PACKAGE + ".module_utils._trust.pki", PACKAGE + ".module_utils._verify.checks",
         PACKAGE + ".module_utils._control_plane.upgrade_plan")
FILTERS = sorted(path.stem for path in (REPO / "plugins" / "filter").glob("*.py"))


def imported_after(*modules):
    """The heavy modules a fresh interpreter holds after importing `modules`."""
    code = ("import importlib, json, sys\n"
            "sys.path.insert(0, %r)\n"
            "from lab.config import collection_on_path\n"
            "collection_on_path()\n"
            "for name in %r: importlib.import_module(name)\n"
            "print(json.dumps([m for m in %r if m in sys.modules]))\n") % (str(REPO), modules, HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_every_filter_file_is_light_to_import():
    assert imported_after(*("%s.filter.%s" % (PACKAGE, name) for name in FILTERS)) == []


@pytest.mark.parametrize("module", ["mesh_resources", "mesh_revision_tags", "mesh_gateway_info"])
def test_a_kubernetes_module_imports_the_client_but_not_the_certificates_or_the_permissions_table(module):
    assert imported_after("%s.modules.%s" % (PACKAGE, module)) == [
        "urllib3", "yaml", PACKAGE + ".module_utils._k8s.client"]
