# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mesh_summary
type: aggregate
short_description: End a rollout with which clusters converged, which failed and why
version_added: 1.0.0
description:
  - After the play recap, lists every host the playbook targeted as converged (every play that
    targeted it ran to its end on it), failed (with the play, the task and the message of the
    failure that stopped it), or not reached (a batch before it failed, or a fleet-wide task failed).
  - Failures of fleet-wide tasks (C(run_once), such as the inventory check or the fleet check's
    verdict) are listed on their own, not charged to the host that happened to run them.
  - After a check-mode run of C(site.yml), lists the fleet check's pending checks (what the run would write).
  - Messages from API servers, exec plugins and clusters are shown with every control character escaped
    (no terminal escape sequence reaches the terminal); a message's lines stay lines, indented.
  - Works beside any stdout callback; in AWX/Automation Platform the summary is the end of the job output.
  - Enable it with C(callbacks_enabled = meshops.multicluster.mesh_summary) in C(ansible.cfg), or
    E(ANSIBLE_CALLBACKS_ENABLED).
requirements:
  - enable in configuration
seealso:
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Rollouts in batches, and the summary at the end of an AWX job.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: A stopped or unreachable cluster.
"""

import unicodedata

from ansible.plugins.callback import CallbackBase

MESSAGE_CHARS = 300


def summarize(targeted, ran, failure, fleet_failures, counts):
    """The summary's sections: {"converged": [host], "failed": [line], "not reached": [line],
    "fleet-wide failures": [line]}.

    targeted/ran: host -> names of the plays that targeted it / in which it ran a task;
    failure: host -> (play, task, message) of its latest failure of its own;
    counts: host -> the recap's counts (failures, unreachable).
    """
    sections = {"converged": [], "failed": [], "not reached": [],
                "fleet-wide failures": ["%s / %s: %s" % failure for failure in fleet_failures]}
    for host, plays in targeted.items():
        missed = [play for play in plays if play not in ran.get(host, [])]
        count = counts.get(host) or {}
        if (count.get("failures") or count.get("unreachable")) and host in failure:
            sections["failed"].append("%s - %s / %s: %s" % ((host,) + failure[host]))
        elif missed:
            sections["not reached"].append("%s - did not run %s (a batch before it, or a fleet-wide task, failed)"
                                           % (host, ", ".join(missed)))
        else:
            sections["converged"].append(host)
    return sections


def printable(text, indent="    "):
    """text safe for a terminal: every control or format character (ESC, BEL, CR, bidi overrides,
    ...) shown as an escape (\\x1b, \\u202e); a newline stays a line break, the next line indented."""
    lines = []
    for line in str(text).replace("\r\n", "\n").split("\n"):
        line = "".join(_escaped(ch) for ch in line.replace("\t", " ")).rstrip()
        if line:
            lines.append(line)
    return ("\n" + indent).join(lines)


def _escaped(ch):
    if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
        return ch
    return "\\x%02x" % ord(ch) if ord(ch) < 0x100 else "\\u%04x" % ord(ch)


def pending_lines(report):
    """The checks the fleet report says are pending (check mode: what the run would write), one line each."""
    titles = {check.get("id"): check.get("title", check.get("id")) for check in (report or {}).get("checks") or []}
    return ["%s / %s: %s" % (cluster.get("name"), titles.get(check_id, check_id), r.get("detail"))
            for cluster in (report or {}).get("clusters") or []
            for check_id, r in (cluster.get("results") or {}).items() if r.get("status") == "pending"]


def _message(result):
    data = result._result
    text = str(data.get("msg") or data.get("stderr") or data.get("reason") or "failed").strip()
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 3] + "..."


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "meshops.multicluster.mesh_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.targeted = {}   # host -> names of the plays that targeted it, in order
        self.ran = {}        # host -> names of the plays in which it ran a task
        self.failure = {}    # host -> (play, task, message) of its latest failure
        self.fleet_failures = []  # (play, task, message) of failed run_once tasks
        self.play = None

    def v2_playbook_on_play_start(self, play):
        # Called once per serial batch; ignore_restrictions: every batch's hosts (--limit still applies).
        self.play = play.get_name().strip()
        inventory = play.get_variable_manager()._inventory
        for host in inventory.get_hosts(play.hosts, order=play.order, ignore_restrictions=True):
            plays = self.targeted.setdefault(host.name, [])
            if self.play not in plays:
                plays.append(self.play)

    def _ran(self, result):
        plays = self.ran.setdefault(result._host.get_name(), [])
        if self.play not in plays:
            plays.append(self.play)

    def v2_runner_on_ok(self, result):
        self._ran(result)

    def v2_runner_on_skipped(self, result):
        self._ran(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._ran(result)
        if ignore_errors:
            return
        failure = (self.play, result._task.get_name().strip(), _message(result))
        if result._task.run_once:
            self.fleet_failures.append(failure)
        else:
            self.failure[result._host.get_name()] = failure

    def v2_runner_on_unreachable(self, result):
        self._ran(result)
        self.failure[result._host.get_name()] = (self.play, result._task.get_name().strip(),
                                                 "unreachable: " + _message(result))

    def v2_playbook_on_stats(self, stats):
        if not self.targeted:
            return
        sections = summarize(self.targeted, self.ran, self.failure, self.fleet_failures,
                             {host: stats.summarize(host) for host in self.targeted})
        # The fleet check hands its report over with set_stats (roles/verify).
        report = ((getattr(stats, "custom", None) or {}).get("_run") or {}).get("mesh_report")
        sections["pending (check mode: the run would write them)"] = pending_lines(report)
        self._display.banner("MESH ROLLOUT SUMMARY")
        converged = sections.pop("converged")
        self._display.display(printable("converged (%d): %s" % (len(converged), ", ".join(converged) or "none")))
        for title, lines in sections.items():
            if lines:
                self._display.display("%s (%d):" % (title, len(lines)))
                for line in lines:
                    self._display.display("  " + printable(line))
