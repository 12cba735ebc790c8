# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hosts of the mesh from the contexts of kubeconfig files: reading, filtering and naming.

Pure logic for the inventory plugin meshops.multicluster.kubeconfig_contexts, testable without
Ansible running."""

from __future__ import annotations

import fnmatch
import re

import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import label_error


class KubeconfigInventoryError(ValueError):
    pass


def read_contexts(path):
    """Names of the contexts a kubeconfig file defines, in file order."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError:
        raise KubeconfigInventoryError("kubeconfig %s: no such file" % path)
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigInventoryError("kubeconfig %s: cannot be read as YAML: %s" % (path, e))
    contexts = doc.get("contexts") if isinstance(doc, dict) else None
    names = [c.get("name") for c in contexts or [] if isinstance(c, dict)]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise KubeconfigInventoryError("kubeconfig %s: expected a kubeconfig with a list 'contexts' of named "
                                       "contexts (kubectl config get-contexts --kubeconfig %s)" % (path, path))
    return names


def compile_patterns(option, patterns):
    """One predicate per pattern: '~regex' (matched from the start, as in Ansible host patterns) or a glob."""
    matchers = []
    for pattern in patterns or []:
        if not isinstance(pattern, str) or not pattern:
            raise KubeconfigInventoryError("%s: %r is not a pattern (a glob, or ~ and a regular expression)"
                                           % (option, pattern))
        if pattern.startswith("~"):
            try:
                matchers.append(re.compile(pattern[1:]).match)
            except re.error as e:
                raise KubeconfigInventoryError("%s: %r is not a valid regular expression: %s" % (option, pattern, e))
        else:
            matchers.append(lambda name, glob=pattern: fnmatch.fnmatchcase(name, glob))
    return matchers


def selected(name, include, exclude):
    """Whether a context is a host: matched by include (or include is empty) and by no exclude."""
    return (not include or any(m(name) for m in include)) and not any(m(name) for m in exclude)


def sanitize_name(name):
    """A DNS-1123 label made from name: lowercase, runs of other characters become one '-', at most 63."""
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return label[:63].rstrip("-")


def cluster_name(context, cluster_names, sanitize):
    """(mesh cluster name, problem or None) of a context."""
    if context in cluster_names:
        name = cluster_names[context]
        why = label_error(name)
        return name, why and "cluster_names: context %r maps to %r, which %s (a DNS-1123 label is expected)" % (
            context, name, why)
    name = sanitize_name(context) if sanitize else context
    why = label_error(name)
    if why and sanitize:
        return name, "context %r leaves no DNS-1123 label when sanitised: name it in cluster_names" % context
    return name, why and ("context %r is not a valid cluster name: it %s (a DNS-1123 label is expected); name it "
                          "in cluster_names or set sanitize_names: true" % (context, why))


def build_hosts(kubeconfigs, include=(), exclude=(), cluster_names=None, sanitize=False, host_vars=None):
    """Hosts of the mesh from the contexts of kubeconfig files.

    kubeconfigs: paths, read in order. include/exclude: patterns on context names.
    cluster_names: context -> mesh cluster name. host_vars: mesh cluster name -> extra variables.
    Returns (hosts, warnings); a host is a dict of its variables (its host_vars, then the mesh_* ones
    this sets), mesh_cluster_name its name.
    Raises KubeconfigInventoryError listing every problem at once."""
    cluster_names = cluster_names or {}
    host_vars = host_vars or {}
    include = compile_patterns("include", include)
    exclude = compile_patterns("exclude", exclude)
    problems = ["host_vars: %r must be a mapping of variables, not %r" % (name, value)
                for name, value in host_vars.items() if not isinstance(value, dict)]
    hosts, seen, known, all_read = [], {}, set(), True
    for path in kubeconfigs:
        try:
            contexts = read_contexts(path)
        except KubeconfigInventoryError as e:
            problems.append(str(e))
            all_read = False
            continue
        known.update(contexts)
        for context in contexts:
            if not selected(context, include, exclude):
                continue
            name, problem = cluster_name(context, cluster_names, sanitize)
            if problem:
                problems.append(problem)
                continue
            if name in seen:
                problems.append(_clash(name, seen[name], (path, context)))
                continue
            seen[name] = (path, context)
            extra = host_vars.get(name)
            hosts.append(dict(extra if isinstance(extra, dict) else {}, mesh_cluster_name=name,
                              mesh_kubeconfig=path, mesh_context=context))
    if all_read:
        problems += ["cluster_names: no kubeconfig defines the context %r" % c for c in cluster_names if c not in known]
    if problems:
        raise KubeconfigInventoryError("the kubeconfig contexts give %d problem(s):\n- %s"
                                       % (len(problems), "\n- ".join(problems)))
    warnings = ["host_vars: %r is not a host of this inventory (hosts: %s)" % (name, ", ".join(seen) or "none")
                for name in host_vars if name not in seen]
    return hosts, warnings


def _clash(name, first, second):
    (path1, context1), (path2, context2) = first, second
    if context1 == context2:
        fix = "rename one (kubectl config rename-context --kubeconfig %s %s NEW-NAME) or leave one file out" % (path2, context2)
    else:
        fix = "give one of them another name in cluster_names, or exclude one"
    return ("contexts %r (%s) and %r (%s) both make the cluster %r: cluster names must be unique; %s"
            % (context1, path1, context2, path2, name, fix))
