# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DNS A-record query over UDP, with the standard library only."""

from __future__ import annotations

import os
import socket
import struct
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DnsError(MeshError):
    pass


def _question(name, query_id):
    labels = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split("."))
    return struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack(">HH", 1, 1)


def _skip_name(data, offset):
    while True:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:  # compression pointer
            return offset + 2
        offset += 1 + length


def query_a(server, name, port=53, timeout=2.0):
    """IPv4 addresses the server answers for name; DnsError with the response code otherwise, or when
    the answer cannot be read (cut short or garbage)."""
    query_id = struct.unpack(">H", os.urandom(2))[0]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(_question(name, query_id), (server, port))
        data = sock.recv(4096)
    except OSError as exc:
        raise DnsError("no answer from %s:%d for %s: %s" % (server, port, name, exc))
    finally:
        sock.close()
    try:
        reply_id, flags, questions, answers = struct.unpack(">HHHH", data[:8])
        if reply_id == query_id and not flags & 0x0F:
            return _addresses(data, questions, answers)
    except (struct.error, IndexError, ValueError) as exc:
        raise DnsError("%s:%d answered %s with %d bytes that are not a DNS response (%s)" % (
            server, port, name, len(data), str(exc) or type(exc).__name__))
    if reply_id != query_id:
        raise DnsError("%s:%d answered another query" % (server, port))
    rcode = flags & 0x0F
    raise DnsError("%s from %s:%d for %s" % (RCODES.get(rcode, "rcode %d" % rcode), server, port, name))


def _addresses(data, questions, answers):
    """IPv4 addresses of the A records of a DNS response whose header said how many questions and
    answers follow; struct.error, IndexError or ValueError when it is cut short or garbage."""
    offset = 12
    for _question_index in range(questions):
        offset = _skip_name(data, offset) + 4
    addresses = []
    for _answer_index in range(answers):
        offset = _skip_name(data, offset)
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", data[offset:offset + 10])
        offset += 10
        if offset + length > len(data):
            raise ValueError("a record is cut short")
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(data[offset:offset + 4]))
        offset += length
    return addresses
