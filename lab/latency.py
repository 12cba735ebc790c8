"""A remote API server on this machine: a TCP proxy in front of one cluster's API server that delays
every byte by half the round trip each way (`python -m lab up --latency-ms N`).

What the controller would see across a region: a new connection pays one round trip before its first
byte reaches the server (TCP's handshake), and each chunk then travels N/2 ms to the server and its
answers N/2 ms back, so one request on an open connection pays N ms, TLS's handshake its own round
trips. Chunks are delayed, not serialised: many in flight on one connection or on many connections
all arrive N/2 ms after they were sent, in order, as on a long fat link (no bandwidth limit). TLS
passes through untouched (the proxy sees only bytes); the API server's certificate names 127.0.0.1,
which the proxy listens on too.

    python -m lab.latency --delay-ms 50 LISTEN_PORT TARGET_PORT

One process per cluster, started by `up` as the lab's other processes are, stopped by `down`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

HOST = "127.0.0.1"
CHUNK = 256 * 1024


class Link:
    """One direction of one connection: chunks read from `reader` are written to `writer` `delay`
    seconds after they were read, in order; the far side is closed (half) once everything sent before
    end of file has arrived."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, first: float = 0.0):
        self.reader, self.writer, self.delay = reader, writer, delay
        self.queue: asyncio.Queue = asyncio.Queue()
        self.first = first  # extra delay of the first chunk (the handshake's round trip)

    async def read(self) -> None:
        loop = asyncio.get_running_loop()
        extra = self.first
        try:
            while True:
                data = await self.reader.read(CHUNK)
                self.queue.put_nowait((loop.time() + self.delay + extra, data))
                extra = 0.0
                if not data:
                    return
        except (ConnectionError, OSError):
            self.queue.put_nowait((loop.time() + self.delay, b""))

    async def deliver(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await self.queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass


async def handle(client_reader, client_writer, target_port: int, delay: float) -> None:
    """One connection: the upstream one is opened at once, but the client's first bytes reach it only
    after the handshake's round trip (2 x delay) and their own way (delay)."""
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(HOST, target_port)
    except OSError:  # the API server is stopped (a failure test): the client sees its connection close
        await asyncio.sleep(2 * delay)
        client_writer.close()
        return
    for writer in (client_writer, upstream_writer):
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    up = Link(client_reader, upstream_writer, delay, first=2 * delay)
    down = Link(upstream_reader, client_writer, delay)
    try:
        await asyncio.gather(up.read(), up.deliver(), down.read(), down.deliver())
    finally:
        for writer in (client_writer, upstream_writer):
            writer.close()


async def serve(listen_port: int, target_port: int, delay_ms: float) -> None:
    delay = delay_ms / 2000.0  # one way
    server = await asyncio.start_server(lambda r, w: handle(r, w, target_port, delay), HOST, listen_port,
                                        reuse_address=True, backlog=1024)
    print(f"latency proxy {HOST}:{listen_port} -> {HOST}:{target_port}, {delay_ms:g} ms round trip", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.latency", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--delay-ms", type=float, required=True, help="round trip added to every request")
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_port", type=int)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.listen_port, args.target_port, args.delay_ms))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
