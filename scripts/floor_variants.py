"""The fan-out floor's loop (bench/floor.py) under the node's conditions, one at a time.

`parlor bench fanout` compares the node with a bare SRTP-protect + sendto loop from one
socket with libsrtp's default replay window. The node sends from one socket per peer,
each registered in the event loop's epoll, under aiortc's outbound policy (a 1,024-packet
window, repeats allowed). This runs the same C loop to 1,000 receiving sockets (drained by
a second process) in four variants, three rounds interleaved, and prints µs of this
thread's CPU per packet (and of it in the kernel) for each:

    unshare -n sh -c 'ip link set lo up; python3 scripts/floor_variants.py'
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import select
import socket
import time
from typing import Any

from pylibsrtp import Policy, Session

from parlor.bench import floor
from parlor.media import _fanout as c_fanout  # type: ignore[attr-defined]
from parlor.media import aiortc_private as priv

LISTENERS = 1000
RATE = 50.0  # packets a second per listener, one speaker
SECONDS = 3.0


def _drain(ports: Any, stop: Any) -> None:
    socks = []
    for _ in range(LISTENERS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        socks.append(s)
    ports.put([s.getsockname() for s in socks])
    poller = select.epoll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.EPOLLIN)
    while not stop.is_set():
        for fd, _ in poller.poll(0.1):
            try:
                while True:
                    by_fd[fd].recv(2048)
            except BlockingIOError:
                pass


def _session(aiortc_policy: bool) -> Session:
    profile = floor._profile()
    policy = Policy(
        key=os.urandom(profile.key_length + profile.salt_length),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=profile.libsrtp_profile,
    )
    if aiortc_policy:  # as aiortc's RTCDtlsTransport makes its outbound session
        policy.allow_repeat_tx = True
        policy.window_size = 1024
    return Session(policy=policy)


def _run(addrs: list[tuple[str, int]], sockets: int, in_epoll: bool, aiortc_policy: bool) -> tuple[float, float]:
    poller = select.epoll()
    shared = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    own: list[socket.socket] = []
    routes = []
    now = time.monotonic()
    for n, (host, port) in enumerate(addrs):
        sock = shared
        if sockets > 1:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            own.append(sock)
            if in_epoll:
                poller.register(sock.fileno(), select.EPOLLIN)
        session = _session(aiortc_policy)
        pointers = priv.fanout_srtp(session)
        assert pointers is not None
        routes.append(c_fanout.Route(f"r{n}", sock.fileno(), host, port, *pointers, session, 111, [n], [0], [0], now))
    count, sent = int(RATE * SECONDS), 0
    before = resource.getrusage(resource.RUSAGE_THREAD)
    start = time.monotonic()
    for i in range(count):
        delay = start + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        template = bytearray(floor._packet(i, i * 960))
        sent += c_fanout.fan_out(routes, None, 0, 1, template, 0, i, i * 960, time.monotonic())[0]
    after = resource.getrusage(resource.RUSAGE_THREAD)
    for route in routes:
        route.close()
    for sock in own:
        sock.close()
    shared.close()
    poller.close()
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return (user + system) * 1e6 / sent, system * 1e6 / sent


def main() -> None:
    ports: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    drain = multiprocessing.Process(target=_drain, args=(ports, stop), daemon=True)
    drain.start()
    addrs = ports.get()
    variants = {
        "floor (1 socket, libsrtp's window)": (1, False, False),
        "1,000 sockets": (LISTENERS, False, False),
        "1,000 sockets in an epoll": (LISTENERS, True, False),
        "1,000 sockets in an epoll, aiortc's policy": (LISTENERS, True, True),
    }
    results: dict[str, list[str]] = {name: [] for name in variants}
    for _ in range(3):
        for name, args in variants.items():
            total, kernel = _run(addrs, *args)
            results[name].append(f"{total:.2f} ({kernel:.2f})")
    stop.set()
    drain.join()
    for name, figures in results.items():
        print(f"{name}: {', '.join(figures)} µs per packet (kernel)")


if __name__ == "__main__":
    main()
