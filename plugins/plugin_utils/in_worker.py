# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of every module of the collection (plugins/action/<module>.py names it): run the module
inside Ansible's worker process when it would run on the controller, with the controller's own Python,
anyway; otherwise as any module (ansible.builtin.normal).

Why: the modules talk to API servers over HTTP, so their host is the controller (connection local).
A module process costs about 0.3 CPU s (mostly compiling the AnsiballZ zip's sources, twice on
Python 3.11) plus a temporary directory made and removed through /bin/sh; the work of a no-op read is
a few milliseconds of that. In the worker the module runs as AnsiballZ runs it - its parameters in
ansible.module_utils.basic._ANSIBLE_ARGS, main() called, its printed result parsed by the controller's
own parser - so check mode, diff, no_log, warnings and failures are exactly those of a module process.
ansible.netcommon runs its modules in the worker the same way (import_modules)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys

from ansible.module_utils import basic
from ansible.module_utils.common.json import Direction, get_module_encoder
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

display = Display()

# How ansible-core serializes the parameters and result of a module that declares no metadata.
PROFILE = "legacy"
SWITCH = "mesh_modules_in_worker"


def why_not_in_worker(enabled, transport, async_val, become, environment, interpreter, controller_python):
    """Why this task's module must run as a process of its own, or None when it can run in the worker.

    In the worker it would run as the controller's user, in the controller's environment and Python;
    anything the task asks for that differs from that keeps the module process."""
    if not enabled:
        return "%s is false" % SWITCH
    if transport != "local":
        return "the connection is %s, not local" % transport
    if async_val:
        return "the task is async"
    if become:
        return "the task uses become"
    if any(environment or ()):
        return "the task sets environment"
    if interpreter != controller_python:
        return ("ansible_python_interpreter is %r, not the controller's Python %r"
                % (interpreter, controller_python))
    return None


class ActionModule(NormalAction):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        reason = self._why_not_in_worker(task_vars)
        if reason:
            display.vvvv("%s runs as a module process: %s" % (self._task.action, reason),
                         host=task_vars.get("inventory_hostname"))
            return super().run(tmp, task_vars)
        result = ActionBase.run(self, tmp, task_vars)  # the generic checks (check mode, async)
        return merge_hash(result, self._run_in_worker(task_vars))

    def _why_not_in_worker(self, task_vars):
        host_vars = task_vars
        if self._task.delegate_to:
            host_vars = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to, {})
        interpreter = self._templar.template(host_vars.get("ansible_python_interpreter"))
        return why_not_in_worker(
            enabled=boolean(self._templar.template(task_vars.get(SWITCH, True)), strict=False),
            transport=self._connection.transport, async_val=self._task.async_val,
            become=self._play_context.become, environment=self._task.environment,
            interpreter=interpreter and os.path.abspath(interpreter),
            controller_python=os.path.abspath(sys.executable))

    def _run_in_worker(self, task_vars):
        module_args = dict(self._task.args)
        self._update_module_args(self._task.action, module_args, task_vars)
        found = self._shared_loader_obj.module_loader.find_plugin_with_context(
            self._task.action, collection_list=self._task.collections)
        module = importlib.import_module(found.plugin_resolved_name)
        encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
        basic._ANSIBLE_PROFILE = PROFILE
        printed = io.StringIO()
        # A module prints its result and exits; an exception that escapes main() is the worker's to report.
        with contextlib.redirect_stdout(printed):
            try:
                module.main()
            except SystemExit:
                pass
        data = self._parse_returned_data({"stdout": printed.getvalue(), "stderr": "", "rc": 0}, PROFILE)
        remove_internal_keys(data)
        return data
