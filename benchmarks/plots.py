"""Plots of the results: each peer's time over ours, with its range turn by turn."""

from __future__ import annotations

from pathlib import Path

from .harness import Row

__all__ = ["plot_ratios"]


def plot_ratios(rows: list[Row], path: Path, title: str) -> bool:
    """Draw ``peer time / our time`` per case and peer as points with ranges (log scale).

    Returns False (and draws nothing) when no row has a ratio.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.ratio is not None]
    if not shown:
        return False
    labels = [f"{r.case} — {r.tool}" for r in shown]
    ratios = [float(r.ratio) for r in shown]  # type: ignore[arg-type]
    low = [v - min(r.ratios or [v]) for r, v in zip(shown, ratios, strict=True)]
    high = [max(r.ratios or [v]) - v for r, v in zip(shown, ratios, strict=True)]
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(shown) + 1.4))
    y = list(range(len(shown)))[::-1]
    for yi, v, lo, hi in zip(y, ratios, low, high, strict=True):
        colour = "#2a7ab9" if v >= 1 else "#c8553d"
        ax.errorbar([v], [yi], xerr=[[lo], [hi]], fmt="o", color=colour, capsize=3, markersize=5)
        at = (v + hi, yi)
        ax.annotate(f"{v:.2f}x", at, xytext=(4, -3), textcoords="offset points", fontsize=7)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.set_xlabel("peer time / our time: median, range turn by turn (right of 1: ours is faster)")
    ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True
