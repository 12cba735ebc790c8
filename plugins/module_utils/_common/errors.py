# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The root of every error the collection raises on purpose.

A MeshError is a message a user can act on: it may name the input field at fault, say the fix, and
carry what was already done before it stopped (the partial result, returned beside the message).
Modules turn it into fail_json in one place, `module.fail_with`."""

from __future__ import annotations


class MeshError(Exception):
    def __init__(self, msg, field=None, fix=None, partial=None):
        super().__init__(msg)
        self.field = field
        self.fix = fix
        self.partial = dict(partial or {})

    def result(self):
        """What fail_json returns beside msg: the field, the fix and the partial result, when known."""
        result = dict(self.partial)
        result.update((key, value) for key, value in (("field", self.field), ("fix", self.fix)) if value is not None)
        return result


class InputError(MeshError, ValueError):
    """Input the collection refuses (a module option, an inventory variable, a cluster's configuration
    it was pointed at), found before anything was written."""
