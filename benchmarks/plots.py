"""Plots of the results: each peer's time over ours, with its range turn by turn."""

from __future__ import annotations

from pathlib import Path

from .harness import Row

__all__ = ["plot_ratios"]


def plot_ratios(rows: list[Row], path: Path, title: str) -> bool:
    """Draw ``peer time / our time`` per case and peer as horizontal bars (log scale).

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
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(shown) + 1.4))
    y = list(range(len(shown)))[::-1]
    colours = ["#2a7ab9" if v >= 1 else "#c8553d" for v in ratios]
    ax.barh(y, ratios, color=colours, xerr=[low, high], capsize=2, height=0.6)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("peer time / our time (right of 1: this project is faster)")
    ax.set_title(title, fontsize=9)
    for yi, v in zip(y, ratios, strict=True):
        ax.annotate(f"{v:.2f}x", (v, yi), xytext=(3, -3), textcoords="offset points", fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
