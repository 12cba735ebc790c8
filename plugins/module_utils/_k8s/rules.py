# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RBAC rules as the API server reports them (SelfSubjectRulesReview): whether they allow a request."""

from __future__ import annotations


def _matches(values, value):
    return "*" in values or value in values


def allowed(resource_rules, group, resource, verb, name=None):
    """Whether RBAC resource rules (as a SelfSubjectRulesReview returns them) allow the request."""
    for rule in resource_rules:
        names = rule.get("resourceNames") or []
        if (_matches(rule.get("verbs") or [], verb) and _matches(rule.get("apiGroups") or [], group)
                and _matches(rule.get("resources") or [], resource) and (not names or (name and name in names))):
            return True
    return False
