"""`parlor bench ...` arguments and dispatch (called from parlor.cli)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from typing import Any

from parlor.bench import idle, social
from parlor.bench import quality as quality_bench
from parlor.bench.fanout import FanoutConfig, run_fanout


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
    node_args(p, generators=2)


def add_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks (run inside a private network namespace)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    fanout = bench_sub.add_parser("fanout", help="one room: S speakers, N WebRTC listeners, one node")
    _fanout_args(fanout, "100")
    fanout.add_argument("--engine", choices=("fast", "relay"), default="fast")
    compare = bench_sub.add_parser("compare", help="fanout for each engine and listener count, in one run")
    _fanout_args(compare, "100,250,500,1000")
    compare.add_argument("--engines", default="fast,relay", help="comma-separated")
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
    quality.add_argument("--workers", type=int, default=1, help="the node's --workers")
    quality.add_argument(
        "--node-nice", type=int, default=-10, help="the node's nice value (0: as the bench; negative needs root)"
    )
    quality.add_argument("--keep", action="store_true", help="keep the work dir (speech, node log)")
    quality.add_argument("--json", action="store_true", help="print only the JSON result")
    social_bench = bench_sub.add_parser("social", help="people search at 100,000 users and 1,000,000 follows")
    social.add_arguments(social_bench)


def _config(args: argparse.Namespace) -> FanoutConfig:
    return FanoutConfig(
        speakers=args.speakers,
        seconds=args.seconds,
        workers=args.workers,
        generators=args.generators,
        concurrency=args.concurrency,
        keep=args.keep,
    )


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result), flush=True)
    else:
        print(json.dumps(result, indent=2), flush=True)


def main(args: argparse.Namespace) -> int:
    if args.bench_command == "social":
        return social.run(args)
    for noisy in ("httpx", "aioice", "aiortc", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.bench_command == "idle":
        return idle.main(args)
    if args.bench_command == "quality":
        return quality_bench.main(args)
    base = _config(args)
    if args.bench_command == "fanout":
        _print(run_fanout(replace(base, listeners=int(args.listeners), engine=args.engine)), args.json)
        return 0
    results = []
    for n in [int(x) for x in args.listeners.split(",") if x]:
        for engine in [e for e in args.engines.split(",") if e]:
            if not args.json:
                print(f"# fanout: {engine}, {n} listeners ...", file=sys.stderr, flush=True)
            result = run_fanout(replace(base, listeners=n, engine=engine))
            results.append(result)
            _print(result, True)
            if args.out:
                with open(args.out, "w") as f:
                    json.dump(results, f, indent=1)
    if args.plot:
        from parlor.bench.plot import plot

        plot(results, args.plot)
    return 0
