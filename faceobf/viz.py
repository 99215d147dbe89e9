"""Figures the chapters share: image grids, landmark overlays, heatmap montages, training curves."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from faceobf.disentangle.landmarks import BROWS, EYES, JAW, MOUTH, NOSE

_GROUP_COLORS = ((JAW, "#f5c518"), (BROWS, "#ff6f61"), (NOSE, "#6fd3ff"), (EYES, "#7CFC00"), (MOUTH, "#ff4dd2"))


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, cols: int = 8, size: float = 1.6, cmap=None):
    """A grid of images (uint8 or float in [0, 1]) with optional titles; returns the figure."""
    n = len(images)
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.05), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[k], fontsize=7)
    fig.tight_layout()
    return fig


def draw_landmarks(ax, points: np.ndarray, size: float = 4.0) -> None:
    """Scatter the 68 points on `ax`, one colour per facial part (jaw, brows, nose, eyes, mouth)."""
    for part, color in _GROUP_COLORS:
        ax.scatter(points[part, 0], points[part, 1], s=size, c=color, linewidths=0)


def landmark_grid(images: Sequence[np.ndarray], points: Sequence[np.ndarray | None], cols: int = 8, size: float = 1.6):
    """Faces with their landmarks drawn; a face without landmarks is titled 'no face found'."""
    fig = image_grid(images, cols=cols, size=size)
    for ax, p in zip(fig.axes, points):
        if p is not None:
            draw_landmarks(ax, p)
        else:
            ax.text(0.5, 0.04, "no face found", transform=ax.transAxes, ha="center", va="bottom", fontsize=7,
                    color="white", bbox={"facecolor": "crimson", "edgecolor": "none", "pad": 1.5})
    return fig


def heatmap_montage(heatmaps: np.ndarray, channels: Sequence[int], names: Sequence[str] | None = None, size: float = 1.6):
    """The sum of all landmark channels, then the chosen single channels, side by side."""
    panels = [heatmaps.sum(axis=-1)] + [heatmaps[..., c] for c in channels]
    titles = ["all 68 channels (sum)"] + [names[i] if names else f"channel {c}" for i, c in enumerate(channels)]
    return image_grid(panels, titles, cols=len(panels), size=size, cmap="magma")


def training_curves(history: dict, metrics: Sequence[tuple[str, str, str]], baseline: dict[str, float] | None = None):
    """One panel per (title, train key, val key) of `history`, plotted against the epoch."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.4))
    axes = np.atleast_1d(axes)
    for ax, (title, train_key, val_key) in zip(axes, metrics):
        ax.plot(history["epoch"], history[train_key], "o-", label="train")
        ax.plot(history["epoch"], history[val_key], "s-", label="validation")
        if baseline and title in baseline:
            ax.axhline(baseline[title], color="gray", ls="--", label="majority baseline")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def trial_sheet_figure(images: Sequence[np.ndarray], sheet=None, pick: Sequence[int] | None = None, title: str = "", size: float = 1.5):
    """One trial sheet as people see it (2 x 5 faces, numbered); with its `sheet`, the processed face framed blue and
    labelled, the right answer (green) and a pick (red dashes). In the query form the processed face is the question,
    not a candidate."""
    fig, axes = plt.subplots(2, 5, figsize=(5 * size, 2 * size * 1.12))
    for k, ax in enumerate(axes.flat):
        ax.imshow(images[k])
        ax.set_xticks([])
        ax.set_yticks([])
        query = sheet is not None and sheet.form == "query" and k == sheet.processed
        ax.set_title("processed (the question)" if query else f"{k + 1}", fontsize=8)
        for spine in ax.spines.values():
            spine.set_visible(False)
        colour = "#1f77b4" if query else "#2ca02c" if sheet is not None and k in sheet.match else None
        if colour:
            for spine in ax.spines.values():
                spine.set(visible=True, color=colour, linewidth=4)
        if pick is not None and k in pick:
            ax.plot([0.04, 0.96, 0.96, 0.04, 0.04], [0.04, 0.04, 0.96, 0.96, 0.04], transform=ax.transAxes, color="#d62728",
                    linestyle="--", linewidth=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def privacy_scatter(table: dict[str, dict], labels: dict[str, str], x: str, x_label: str, ax=None, chance: float | None = None,
                    x_scale: float = 1.0):
    """One point per method: identification rate (y) against a naturalness measure (x)."""
    ax = ax or plt.gca()
    kinds = {"unet": "#1f77b4", "warp": "#9467bd", "baseline": "#ff7f0e", "original": "#2ca02c"}
    for name, row in table.items():
        if row.get(x) is None:
            continue
        colour = kinds.get(labels.get(f"{name}:kind", ""), "#7f7f7f")
        ax.scatter(row[x] * x_scale, row["recall_at_1"], color=colour, s=40, zorder=3)
        ax.annotate(labels.get(name, name), (row[x] * x_scale, row["recall_at_1"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel(x_label)
    ax.set_ylabel("Recall@1 (dlib)")
    ax.set_ylim(-0.03, 1.05)
    ax.grid(alpha=0.3)
    return ax


def landmark_flip_figure(mapping, flips: Sequence[str], gain: float = 1.0, panel: float = 2.3):
    """What flipping each attribute does to the 68 points: the landmark mapping's mean face (grey) and the same face with
    the attribute switched on (coloured, moved by `gain` x its coefficient), arrows scaled up 5x so a small move shows;
    one panel per flip, each titled with its mean move in inter-ocular distances. Returns the figure."""
    from faceobf.disentangle.attributes import attribute_index
    from faceobf.disentangle.geometry import TEMPLATE_INTER_OCULAR

    base = np.asarray(mapping.intercept)
    fig, axes = plt.subplots(1, len(flips), figsize=(panel * len(flips), panel * 1.35), squeeze=False)
    for ax, name in zip(axes[0], flips):
        move = gain * mapping.coefficients[attribute_index(name)]
        moved = base + move
        ax.scatter(base[:, 0], base[:, 1], s=9, c="#9e9e9e", linewidths=0, label="mean face")
        for part, colour in _GROUP_COLORS:
            ax.scatter(moved[part, 0], moved[part, 1], s=9, c=colour, linewidths=0)
        ax.quiver(base[:, 0], base[:, 1], 5 * move[:, 0], 5 * move[:, 1], angles="xy", scale_units="xy", scale=1,
                  width=0.006, color="#333333")
        mean_iod = float(np.linalg.norm(move, axis=-1).mean() / TEMPLATE_INTER_OCULAR)
        ax.set_title(f"+{name}\nmean move {mean_iod:.3f} IOD", fontsize=10)
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.axis("off")
    fig.tight_layout()
    return fig


def before_after(pairs: Sequence[tuple[np.ndarray, np.ndarray]], titles: Sequence[str], column_px: int = 690, dpi: int = 100):
    """Each (input crop, output crop) side by side at native size where the page column allows (else shrunk to fit),
    one row per pair, each row titled; returns the figure."""
    widest = max(a.shape[1] + b.shape[1] for a, b in pairs)
    scale = min(1.0, column_px / widest)
    heights = [max(a.shape[0], b.shape[0]) * scale / dpi + 0.35 for a, b in pairs]
    fig, axes = plt.subplots(len(pairs), 2, figsize=(widest * scale / dpi, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for row, ((a, b), title) in enumerate(zip(pairs, titles)):
        for ax, image, side in zip(axes[row], (a, b), ("input", "output")):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(f"{title}: {side}" if side == "input" else side, fontsize=10)
            ax.axis("off")
    fig.tight_layout()
    return fig
