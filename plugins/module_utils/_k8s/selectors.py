# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes label selectors (matchLabels and matchExpressions), matched as the API server matches them."""

from __future__ import annotations


def _expression_matches(expression, labels):
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError("operator %r is not In, NotIn, Exists or DoesNotExist" % (operator,))


def selector_matches(selector, labels):
    """Whether labels ({key: value}) match a LabelSelector: every matchLabels pair and every
    matchExpressions entry. An empty selector matches everything. ValueError for an unknown operator."""
    labels = labels or {}
    selector = selector or {}
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items()) and \
        all(_expression_matches(expression, labels) for expression in selector.get("matchExpressions") or [])
