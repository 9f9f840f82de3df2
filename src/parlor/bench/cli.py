"""`parlor bench ...` arguments and dispatch (called from parlor.cli)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

# The benchmarks import aiortc and friends: only when one runs, not for every `parlor` command.
if TYPE_CHECKING:
    from parlor.bench.fanout import FanoutConfig


def node_args(p: argparse.ArgumentParser, generators: int) -> None:
    """Options every benchmark that runs a node and WebRTC load generators takes."""
    p.add_argument("--seconds", type=float, default=10.0, help="length of the measurement window")
    p.add_argument("--workers", type=int, default=1, help="the node's --workers")
    p.add_argument("--generators", type=int, default=generators, help="load generator processes")
    p.add_argument("--concurrency", type=int, default=25, help="concurrent joins per generator process")
    p.add_argument("--keep", action="store_true", help="keep the node's data dir and log")
    p.add_argument("--json", action="store_true", help="print only the JSON result(s)")


def _fanout_args(p: argparse.ArgumentParser, listeners: str) -> None:
    p.add_argument("--listeners", default=listeners, help="listeners (compare: comma-separated list)")
    p.add_argument("--speakers", type=int, default=1)
    p.add_argument(
        "--subscribed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="peers keep their socket open and subscribed to the room, as browsers do (default); "
        "--no-subscribed: they close it once media is up (the media plane alone)",
    )
    node_args(p, generators=2)


def add_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks (run inside a private network namespace)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    fanout = bench_sub.add_parser("fanout", help="one room: S speakers, N WebRTC listeners, one node")
    _fanout_args(fanout, "100")
    fanout.add_argument("--engine", choices=("fast", "relay"), default="fast")
    fanout.add_argument(
        "--encrypted",
        choices=("off", "on", "both"),
        default="off",
        help="an end-to-end encrypted room: speakers send SFrame frames (on); both: alternate "
        "plain and encrypted windows in the same run and report each and their ratio",
    )
    fanout.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="nodes of a cluster (a Redis of its own, one database): the room on the first, the listeners "
        "split over all; above 1, a one-node run with the same listeners goes first, as the baseline",
    )
    compare = bench_sub.add_parser("compare", help="fanout for each engine and listener count, in one run")
    _fanout_args(compare, "100,250,500,1000")
    compare.add_argument("--engines", default="fast,relay", help="comma-separated")
    compare.add_argument(
        "--modes",
        help="comma-separated: subscribed, unsubscribed (both: each point in both modes, one after the "
        "other; default: as --subscribed says)",
    )
    compare.add_argument("--out", help="write all results here (JSON list)")
    compare.add_argument("--plot", help="write a PNG plot here (needs matplotlib)")
    idle_bench = bench_sub.add_parser("idle", help="CPU the node spends keeping N silent peers connected")
    idle_bench.add_argument("--peers", type=int, default=100)
    node_args(idle_bench, generators=1)
    quality = bench_sub.add_parser(
        "quality", help="speech through Parlor against a direct call, PESQ-WB (Chromium, espeak-ng, sox)"
    )
    quality.add_argument("--runs", type=int, default=10, help="runs of each kind (parlor, direct), interleaved")
    quality.add_argument("--speakers", type=int, choices=(1, 2), default=1, help="2: two speakers take turns")
    quality.add_argument("--sentences", type=int, default=4, help="sentences in each speaker's loop")
    quality.add_argument("--dtx", choices=("on", "off"), default=None, help="the node's Opus DTX (default: its own)")
    quality.add_argument(
        "--direct-dtx", choices=("on", "off"), default="off",
        help="the direct call with Opus DTX too (default off: Chromium's own default)",
    )
    quality.add_argument("--workers", type=int, default=1, help="the node's --workers")
    quality.add_argument(
        "--node-nice", type=int, default=-10, help="the node's nice value (0: as the bench; negative needs root)"
    )
    quality.add_argument(
        "--turn-by", choices=("voice", "mute"), default="voice",
        help="two speakers: each falls silent in the other's turn (voice), or the bench mutes them (mute)",
    )
    quality.add_argument(
        "--motion", choices=("reduce", "full"), default="reduce",
        help="the pages' prefers-reduced-motion (full: the speaking ring pulses, painted in software)",
    )
    quality.add_argument(
        "--slots", type=int, default=None, help="the node's listener slots (default: 1 with two speakers)"
    )
    quality.add_argument("--keep", action="store_true", help="keep the work dir (speech, node log, recordings)")
    quality.add_argument("--json", action="store_true", help="print only the JSON result")
    join = bench_sub.add_parser("join", help='from "Join" to the first audio decoded, web client in Chromium')
    join.add_argument("--joins", type=int, default=30, help="joins to time (the listener leaves between them)")
    join.add_argument("--workers", type=int, default=1, help="the node's --workers")
    join.add_argument("--keep", action="store_true", help="keep the work dir (node log)")
    join.add_argument("--json", action="store_true", help="print the JSON result on one line, with every run")
    login_flood = bench_sub.add_parser(
        "login-flood", help="hallway latency for a member, before and during a wrong-password flood"
    )
    from parlor.bench import login_flood as login_flood_bench

    login_flood_bench.add_arguments(login_flood)
    presence_bench = bench_sub.add_parser(
        "presence", help="a big room's presence: messages per listener socket during joins, hands, reactions, leaves"
    )
    from parlor.bench import presence

    presence.add_arguments(presence_bench)
    social_bench = bench_sub.add_parser("social", help="people search at 100,000 users and 1,000,000 follows")
    from parlor.bench import social

    social.add_arguments(social_bench)


def _config(args: argparse.Namespace) -> FanoutConfig:
    from parlor.bench.fanout import FanoutConfig

    return FanoutConfig(
        speakers=args.speakers,
        seconds=args.seconds,
        workers=args.workers,
        generators=args.generators,
        concurrency=args.concurrency,
        keep=args.keep,
        subscribed=args.subscribed,
        encrypted=getattr(args, "encrypted", "off"),
        nodes=getattr(args, "nodes", 1),
    )


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result), flush=True)
    else:
        print(json.dumps(result, indent=2), flush=True)


def main(args: argparse.Namespace) -> int:
    from parlor.bench import idle, social
    from parlor.bench import quality as quality_bench
    from parlor.bench.fanout import run_fanout

    if args.bench_command == "social":
        return social.run(args)
    if args.bench_command == "presence":
        from parlor.bench import presence

        return presence.main(args)
    for noisy in ("httpx", "aioice", "aiortc", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.bench_command == "idle":
        return idle.main(args)
    if args.bench_command == "login-flood":
        from parlor.bench import login_flood

        return login_flood.main(args)
    if args.bench_command == "quality":
        return quality_bench.main(args)
    if args.bench_command == "join":
        from parlor.bench import join as join_bench

        return join_bench.main(args)
    base = _config(args)
    if args.bench_command == "fanout":
        _print(run_fanout(replace(base, listeners=int(args.listeners), engine=args.engine)), args.json)
        return 0
    modes = [m for m in (args.modes or "").split(",") if m] or ["subscribed" if args.subscribed else "unsubscribed"]
    if not set(modes) <= {"subscribed", "unsubscribed"}:
        print("parlor bench compare: --modes takes subscribed and/or unsubscribed", file=sys.stderr)
        return 2
    results = []
    points = [
        (n, engine, mode)
        for n in [int(x) for x in args.listeners.split(",") if x]
        for engine in [e for e in args.engines.split(",") if e]
        for mode in modes
    ]
    for n, engine, mode in points:
        if not args.json:
            print(f"# fanout: {engine}, {n} listeners, {mode} ...", file=sys.stderr, flush=True)
        result = run_fanout(replace(base, listeners=n, engine=engine, subscribed=mode == "subscribed"))
        results.append(result)
        _print(result, True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)
    if args.plot:
        from parlor.bench.plot import plot

        plot(results, args.plot)
    return 0
