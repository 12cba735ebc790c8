# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects read from a cluster whose content cannot be read: one error that names the object.

Every reader of cluster objects parses inside `reading(obj)`: whatever a parser raises on content
it cannot read (a bad line, bad base64, JSON that is not what it should be) becomes a
MalformedObject naming the object and what is wrong with it. The fleet check turns it into a failed
check of that cluster (`finding()`); the other clusters are judged as usual.
"""

from __future__ import annotations

import binascii
import contextlib
import zlib
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError

# What parsers raise on content they cannot read (gzip's BadGzipFile is an OSError).
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, binascii.Error, UnicodeError,
                OSError, EOFError, zlib.error)


class MalformedObject(MeshError, ValueError):
    """obj: the object ("ConfigMap istio-system/istiocoredns-records"); problem: what is wrong with it."""

    def __init__(self, obj, problem):
        super().__init__("%s: %s" % (obj, problem))
        self.obj, self.problem = obj, problem

    def finding(self, check=None):
        """The object and its problem as the fleet check's input ({check, object, problem})."""
        found = {"object": self.obj, "problem": self.problem}
        if check:
            found["check"] = check
        return found


def _describe(exc):
    if isinstance(exc, KeyError):
        return "no field %s" % exc
    if isinstance(exc, (TypeError, AttributeError)):
        return "a field has the wrong type (%s)" % exc
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def reading(obj, problem=None):
    """Parse the content of obj inside: a parse error becomes MalformedObject(obj, what is wrong).
    problem: what to say instead of the parser's message, which may quote the content (a key)."""
    try:
        yield
    except MalformedObject:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedObject(obj, problem or _describe(exc)) from None
