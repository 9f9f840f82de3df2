"""A PNG of `parlor bench compare` results: CPU per packet and delivery against listeners."""

from __future__ import annotations

from typing import Any


def plot(results: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cpu_ax, ratio_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for engine in sorted({r["engine"] for r in results}):
        rows = sorted(
            (r for r in results if r["engine"] == engine and r["server_cpu_us_per_packet"] is not None),
            key=lambda r: r["listeners"],
        )
        xs = [r["listeners"] for r in rows]
        cpu_ax.plot(xs, [r["server_cpu_us_per_packet"] for r in rows], marker="o", label=engine)
        ratio_ax.plot(xs, [r["delivered_ratio"] for r in rows], marker="o", label=engine)
    cpu_ax.set_xlabel("listeners (1 speaker, 50 packets/s)")
    cpu_ax.set_ylabel("server CPU µs per forwarded packet")
    cpu_ax.set_ylim(bottom=0)
    ratio_ax.set_xlabel("listeners (1 speaker, 50 packets/s)")
    ratio_ax.set_ylabel("delivered ratio")
    for ax in (cpu_ax, ratio_ax):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("parlor bench fanout: fast path vs aiortc MediaRelay (one node, one worker)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
