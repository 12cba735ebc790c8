"""Write docs/variables.md, the reference of every role variable, from roles/*/meta/argument_specs.yml
and roles/*/defaults/main.yml.

    python tests/docs_variables.py          # rewrite docs/variables.md
    python tests/docs_variables.py --check  # exit 1 when it is out of date or a variable is undocumented

tests/unit/test_docs_variables.py runs the check."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "variables.md"
# The roles in the order site.yml runs them; roles not named here follow, by name.
FLOW = ("preflight", "trust", "control_plane", "dns", "services")
# A variable whose description, in any role, speaks of "this cluster" is set per cluster.
PER_CLUSTER = re.compile(r"\bthis cluster\b", re.IGNORECASE)

HEADER = """\
# Role variables

Every variable of the roles of meshops.multicluster: its default, where it is set and what it does.
Generated from `roles/*/meta/argument_specs.yml` (and `defaults/main.yml` where the spec gives no
default) by `python tests/docs_variables.py`; do not edit by hand.

Scope:

- **fleet**: set once for the mesh, in `group_vars/mesh_clusters.yml` of the inventory. A setting
  about the cluster itself (`mesh_dns_provider` of an AKS cluster, say) can be overridden for one
  cluster in its host_vars; the mesh's identity (`mesh_id`, `mesh_trust_domain`,
  `mesh_istio_version`, `mesh_istio_values`) must be the same everywhere: preflight refuses a fleet
  where it differs.
- **cluster**: describes one cluster, in `host_vars/<cluster>.yml` (or the host's entry in the
  inventory). A description that speaks of "this cluster" in `meta/argument_specs.yml` makes a
  variable one of these.

The inventory itself gives every host `mesh_kubeconfig`, `mesh_context` and `ansible_connection: local`
(see `inventory/example/` and the inventory plugin `meshops.multicluster.kubeconfig_contexts`).
`inventory/example/group_vars/mesh_clusters.yml` shows the fleet-wide ones in use.
`mesh_modules_in_worker` (default true), read by every module's action rather than by a role, runs
the modules in Ansible's worker processes where it can; false keeps a process per module
([large fleets](operations.md#large-fleets-and-distant-clusters)).

## Rollout (playbook) variables

Read by the playbooks `trust`, `control_plane` and `dns` (and so `site`) as play keywords, so only
extra variables set them (`-e`, or a job template's extra variables or survey); see
[rollouts](operations.md#rollouts).

| variable | type | default | what it does |
| --- | --- | --- | --- |
| `mesh_rollout_canary` | str | none | This cluster (a host of `mesh_clusters`) goes first, alone; when it fails, the run stops before any other cluster. |
| `mesh_rollout_serial` | list | `["100%"]`, `[1, "100%"]` with a canary | Batch sizes, as Ansible's `serial` (numbers or percentages; the last one repeats). |
| `mesh_rollout_max_fail_percentage` | int | `100` | Stop when more than this share of a batch failed; a batch that fails entirely always stops the run. |

## Supported versions

What the collection is tested with (the lab: `lab/versions.toml`, `requirements-dev.txt`) and the
versions it supports. Outside them the preflight role warns and goes on: for `mesh_istio_version`,
and for each cluster's Kubernetes version as its API server reports it (`/version`). The ranges
live in `plugins/module_utils/_preflight/versions.py`; a unit test keeps this table in step.

| component | tested with | supported |
| --- | --- | --- |
| Istio | 1.31 | 1.30 to 1.31 |
| Kubernetes | 1.34 | 1.32 to 1.36 |
| ansible-core | 2.19.14 | `>=2.19.0` |

- **Istio**: the minors the Istio project supports (a minor until six weeks after the next-but-one
  minor is released; see Istio's [supported releases](https://istio.io/latest/docs/releases/supported-releases/)).
  The lab builds the commit of Istio 1.31.0, the default `mesh_istio_version`. Take the newest patch
  of a supported minor: the collection installs whatever chart version you name.
- **Kubernetes**: the versions those Istio minors support.
- **ansible-core**: `requires_ansible` of `meta/runtime.yml`, with Python 3.11.
"""


def load_yaml(path):
    return yaml.safe_load(path.read_text()) if path.exists() else None


def roles(repo=REPO):
    names = sorted(p.name for p in (repo / "roles").iterdir() if (p / "tasks").is_dir())
    return [n for n in FLOW if n in names] + [n for n in names if n not in FLOW]


def entry_points(repo, role):
    """The argument_specs entry points of a role, or None when it has no meta/argument_specs.yml."""
    specs = load_yaml(repo / "roles" / role / "meta" / "argument_specs.yml")
    return None if specs is None else (specs or {}).get("argument_specs") or {}


def role_options(entry_points):
    """{variable: option spec} of every entry point (main first), or None without a spec."""
    if entry_points is None:
        return None
    options = {}
    for name in sorted(entry_points, key=lambda n: n != "main"):
        for var, spec in ((entry_points[name] or {}).get("options") or {}).items():
            options.setdefault(var, dict(spec or {}, entry_point=name))
    return options


def role_defaults(repo, role):
    return load_yaml(repo / "roles" / role / "defaults" / "main.yml") or {}


def problems(repo=REPO):
    """Variables of defaults/main.yml missing from argument_specs.yml, and defaults that disagree."""
    found = []
    for role in roles(repo):
        options = role_options(entry_points(repo, role))
        defaults = role_defaults(repo, role)
        if options is None:
            found.append("roles/%s: no meta/argument_specs.yml (variables: %s)" % (role, ", ".join(defaults) or "none"))
            continue
        for var, value in defaults.items():
            if var not in options:
                found.append("roles/%s: %s is in defaults/main.yml but not in meta/argument_specs.yml" % (role, var))
            elif "default" in options[var] and options[var]["default"] != value:
                found.append("roles/%s: %s defaults to %r in defaults/main.yml but %r in meta/argument_specs.yml"
                             % (role, var, value, options[var]["default"]))
    return found


def plain(text):
    """Ansible doc markup (C(x), O(x), V(x), M(x), I(x), ...) as Markdown, < and > escaped outside code."""
    text = " ".join(text) if isinstance(text, list) else str(text or "")
    parts = re.sub(r"\b[COVMIEP]\(([^()]*)\)", r"`\1`", text).replace("\n", " ").split("`")
    parts[::2] = [p.replace("<", "&lt;").replace(">", "&gt;") for p in parts[::2]]
    return "`".join(parts).replace("|", "\\|")


def code(value):
    """A value as Markdown code: strings as they are ("" when empty), others as JSON; a pipe escaped
    (a table cell ends at an unescaped one, code or not)."""
    if isinstance(value, str):
        return "`%s`" % value.replace("|", "\\|") if value else '`""`'
    return "`%s`" % json.dumps(value).replace("|", "\\|")


def default_text(spec, defaults, var):
    if "default" in spec:
        return code(spec["default"])
    return code(defaults[var]) if var in defaults else "-"


def render(repo=REPO):
    specs = {role: entry_points(repo, role) for role in roles(repo)}
    tables = {role: role_options(specs[role]) for role in specs}
    per_cluster = {var for options in tables.values() for var, spec in (options or {}).items()
                   if PER_CLUSTER.search(plain(spec.get("description")))}
    lines = [HEADER]
    for role, options in tables.items():
        lines += ["", "## %s" % role, ""]
        if options is None:
            lines.append("No `meta/argument_specs.yml` yet.")
            continue
        summary = (specs[role].get("main") or {}).get("short_description")
        if summary:
            lines += [plain(summary) + ".", ""]
        lines += ["| variable | type | default | scope | description |", "| --- | --- | --- | --- | --- |"]
        defaults = role_defaults(repo, role)
        for var, spec in options.items():
            description = plain(spec.get("description"))
            if spec.get("choices"):
                description += " One of: %s." % ", ".join(map(code, spec["choices"]))
            if spec["entry_point"] != "main":
                description += " (entry point `%s`)" % spec["entry_point"]
            kind = spec.get("type", "str") + (" of %s" % spec["elements"] if spec.get("elements") else "")
            lines.append("| `%s` | %s | %s | %s | %s |" % (var, kind, default_text(spec, defaults, var),
                                                           "cluster" if var in per_cluster else "fleet", description))
    return "\n".join(lines) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        stale = PAGE.read_text() != text if PAGE.exists() else True
        issues = problems() + (["docs/variables.md is out of date: run python tests/docs_variables.py"] if stale else [])
        print("\n".join(issues) or "docs/variables.md is up to date")
        return 1 if issues else 0
    PAGE.write_text(text)
    for issue in problems():
        print(issue, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
