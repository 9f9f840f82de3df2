"""Cut some of the loopback's traffic, as a network drop would (tests run in a private
network namespace where only `lo` exists).

The kernel here has no tc actions (`action drop` fails) and no nftables, so packets
are held by a qdisc: an HTB root whose default class passes everything, and a class
of 8 bit/s where u32 filters send the packets to cut. They wait there, never sent, and
`restore()` deletes the qdisc with its backlog: lost, as on a real network. (A pfifo of
limit 0 would drop them at once, but then the sender's kernel sees a local drop and
TCP gives up on the connection within seconds, which a real network drop does not do.)
"""

from __future__ import annotations

import subprocess


def _tc(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True, text=True)


class NetDrop:
    """`cut(hosts, udp_ports)` drops every IPv4 packet from or to those addresses, and
    UDP from or to those ports, on `lo`; `restore()` lets everything through again."""

    def __init__(self, dev: str = "lo") -> None:
        self.dev = dev
        self.active = False

    def cut(self, hosts: list[str], udp_ports: list[int]) -> None:
        self.restore()
        dev = self.dev
        _tc("qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10")
        self.active = True
        _tc("class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", "100gbit")
        _tc("class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "8bit", "ceil", "8bit")
        _tc("qdisc", "add", "dev", dev, "parent", "1:20", "handle", "20:", "pfifo", "limit", "100000")
        matches: list[list[str]] = []
        for host in hosts:
            matches += [["ip", "src", f"{host}/32"], ["ip", "dst", f"{host}/32"]]
        for port in udp_ports:
            udp = ["ip", "protocol", "17", "0xff"]
            matches += [[*udp, "match", "ip", "sport", str(port), "0xffff"]]
            matches += [[*udp, "match", "ip", "dport", str(port), "0xffff"]]
        for match in matches:
            _tc("filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", *match, "flowid", "1:20")

    def restore(self) -> None:
        if self.active:
            _tc("qdisc", "del", "dev", self.dev, "root")
            self.active = False
