"""The DNS query of the fleet check (query_a) against a real UDP socket on 127.0.0.1 (an ephemeral
port) that answers with hand-built DNS responses: A records, NXDOMAIN, answers cut short or
garbage, another query's id, and silence."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError, query_a

NAME = "httpbin.bar.global"


def qname(name):
    return b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\x00"


def record(rtype, rdata, name=b"\xc0\x0c"):
    """One resource record, its name by default a compression pointer to the question's name."""
    return name + struct.pack(">HHIH", rtype, 1, 30, len(rdata)) + rdata


def a_record(address):
    return record(1, socket.inet_aton(address))


def response(query, *answers, rcode=0):
    """The answer a server gives to query: its id and question echoed, then the answers."""
    question = query[12:]
    return query[:2] + struct.pack(">HHHHH", 0x8180 | rcode, 1, len(answers), 0, 0) + question + b"".join(answers)


@pytest.fixture
def server():
    """A UDP server on 127.0.0.1:<ephemeral>; server.answer(query) -> bytes, or None to stay silent.
    Records the queries it got."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    class Server:
        port = sock.getsockname()[1]
        queries = []
        answer = None

    def serve():
        try:
            query, peer = sock.recvfrom(512)
        except OSError:
            return
        Server.queries.append(query)
        reply = Server.answer(query)
        if reply is not None:
            sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield Server
    sock.close()
    thread.join(5)


def ask(server, timeout=2.0):
    return query_a("127.0.0.1", NAME, port=server.port, timeout=timeout)


def test_the_query_asks_for_the_a_record_of_the_name_with_recursion_desired(server):
    server.answer = lambda query: response(query, a_record("240.0.10.1"))
    assert ask(server) == ["240.0.10.1"]
    query, = server.queries
    query_id, flags, questions, answers, authority, additional = struct.unpack(">HHHHHH", query[:12])
    assert (flags, questions, answers, authority, additional) == (0x0100, 1, 0, 0, 0)
    assert query[12:] == qname(NAME) + struct.pack(">HH", 1, 1)


def test_every_a_record_is_an_address_and_other_records_are_skipped(server):
    cname = record(5, qname("target.bar.svc.cluster.local"))
    server.answer = lambda query: response(query, cname, a_record("240.0.10.1"), record(28, b"\x00" * 16),
                                           record(1, socket.inet_aton("240.0.10.2"), name=qname(NAME)))
    assert ask(server) == ["240.0.10.1", "240.0.10.2"]


def test_no_record_is_an_empty_answer(server):
    server.answer = response
    assert ask(server) == []


@pytest.mark.parametrize("rcode, word", [(3, "NXDOMAIN"), (2, "SERVFAIL"), (5, "REFUSED"), (9, "rcode 9")])
def test_an_error_code_is_a_dns_error_naming_it_the_server_and_the_name(server, rcode, word):
    server.answer = lambda query: response(query, rcode=rcode)
    with pytest.raises(DnsError) as caught:
        ask(server)
    assert str(caught.value) == "%s from 127.0.0.1:%d for %s" % (word, server.port, NAME)


def test_an_answer_to_another_query_is_not_taken(server):
    server.answer = lambda query: response(struct.pack(">H", (struct.unpack(">H", query[:2])[0] + 1) % 65536)
                                           + query[2:], a_record("240.0.10.1"))
    with pytest.raises(DnsError, match=r"^127\.0\.0\.1:\d+ answered another query$"):
        ask(server)


@pytest.mark.parametrize("cut", [
    pytest.param(lambda reply: reply[:-2], id="address cut short"),
    pytest.param(lambda reply: reply[:-12], id="record header cut short"),
    pytest.param(lambda reply: reply[:20], id="question cut short"),
    pytest.param(lambda reply: reply[:5], id="header cut short"),
])
def test_an_answer_cut_short_is_a_dns_error_not_a_traceback(server, cut):
    server.answer = lambda query: cut(response(query, a_record("240.0.10.1")))
    with pytest.raises(DnsError, match=r"^127\.0\.0\.1:\d+ answered %s with \d+ bytes that are not a DNS response \(.+\)$"
                       % NAME.replace(".", r"\.")):
        ask(server)


def test_garbage_is_a_dns_error_not_a_traceback(server):
    # Its id is the query's and it claims answers, then holds labels that run past its end.
    server.answer = lambda query: query[:2] + b"\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00" + b"\x3f" * 20
    with pytest.raises(DnsError, match="not a DNS response"):
        ask(server)


def test_silence_is_a_dns_error_after_the_timeout(server):
    server.answer = lambda query: None
    with pytest.raises(DnsError, match=r"^no answer from 127\.0\.0\.1:\d+ for %s: timed out$" % NAME.replace(".", r"\.")):
        ask(server, timeout=0.3)
    assert len(server.queries) == 1
