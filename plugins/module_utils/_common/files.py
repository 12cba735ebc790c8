# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files on the controller the collection keeps: read when present, replaced atomically and durably."""

from __future__ import annotations

import os
import tempfile


def read_file(path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_atomic(path, data, mode=0o644):
    """Replace `path` with `data` in one rename: a reader sees the old file or the new one, never a
    part. The temporary file has `mode` (0600 for keys) before anything is written to it. The data
    is fsynced before the rename and the directory after it, so that once this returns the file
    survives a crash (a caller writing a key and its certificate writes the key first)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else data.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    sync_directory(directory)


def sync_directory(directory):
    """fsync a directory, making the renames and creations of files in it durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
