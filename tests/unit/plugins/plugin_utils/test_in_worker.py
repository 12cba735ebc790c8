"""When a module of the collection runs in Ansible's worker process, and that every module goes through it."""

import importlib
from pathlib import Path

import pytest

from ansible_collections.meshops.multicluster.plugins.plugin_utils.in_worker import ActionModule, why_not_in_worker

REPO = Path(__file__).resolve().parents[4]
PYTHON = "/opt/venv/bin/python"
LOCAL = dict(enabled=True, transport="local", async_val=0, become=False, environment=[],
             interpreter=PYTHON, controller_python=PYTHON)


def test_a_local_task_with_the_controllers_python_runs_in_the_worker():
    assert why_not_in_worker(**LOCAL) is None


@pytest.mark.parametrize("change, reason", [
    (dict(enabled=False), "mesh_modules_in_worker is false"),
    (dict(transport="ssh"), "the connection is ssh, not local"),
    (dict(async_val=60), "the task is async"),
    (dict(become=True), "the task uses become"),
    (dict(environment=[{"HTTPS_PROXY": "http://proxy:3128"}]), "the task sets environment"),
    (dict(interpreter="/usr/bin/python3"), "ansible_python_interpreter is '/usr/bin/python3'"),
    (dict(interpreter=None), "ansible_python_interpreter is None"),
])
def test_anything_the_worker_cannot_give_the_module_keeps_the_module_process(change, reason):
    assert why_not_in_worker(**{**LOCAL, **change}).startswith(reason)


def test_an_empty_environment_is_no_environment():
    assert why_not_in_worker(**{**LOCAL, "environment": [{}]}) is None


def test_every_module_of_the_collection_has_the_action():
    modules = {path.stem for path in (REPO / "plugins" / "modules").glob("*.py")}
    actions = {path.stem for path in (REPO / "plugins" / "action").glob("*.py")}
    assert actions == modules
    for name in modules:
        action = importlib.import_module(f"ansible_collections.meshops.multicluster.plugins.action.{name}")
        assert action.ActionModule is ActionModule, name
