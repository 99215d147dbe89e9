"""Figures the chapters share, in one style sized for the book's page column: image grids, landmark overlays,
heatmap montages, training curves, bar charts and tables.

The book is read in a column of about 690 px. Every figure here is drawn that wide at 100 dpi, so a 10 pt font
is 10 pt on the page, and a grid never holds more faces per row than leaves each about 100 px.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from faceobf.disentangle.landmarks import BROWS, EYES, JAW, MOUTH, NOSE

COLUMN_PX = 690  # the width of the book's text column
DPI = 100
COLUMN_IN = COLUMN_PX / DPI
FONT_PT = 10  # the smallest font on the page
MAX_FACES_PER_ROW = 6  # 690 px / 6: faces of about 110 px
# Okabe & Ito's palette: told apart with every common colour-vision deficiency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_GROUP_COLORS = ((JAW, "#f5c518"), (BROWS, "#ff6f61"), (NOSE, "#6fd3ff"), (EYES, "#7CFC00"), (MOUTH, "#ff4dd2"))


def book_style() -> None:
    """Set matplotlib for the page column: figures COLUMN_PX wide at DPI, fonts of FONT_PT and more, one palette."""
    plt.rcParams.update({
        "figure.figsize": (COLUMN_IN, COLUMN_IN * 0.6), "figure.dpi": DPI, "savefig.dpi": DPI,
        "font.size": FONT_PT, "axes.titlesize": FONT_PT + 1, "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT,
        "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT, "figure.titlesize": FONT_PT + 2,
        "axes.prop_cycle": plt.cycler(color=PALETTE), "axes.grid": False, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "image.interpolation": "nearest",
    })


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, cols: int = MAX_FACES_PER_ROW,
               size: float | None = None, cmap=None):
    """A grid of images (uint8 or float in [0, 1]) with optional titles, `cols` per row filling the page column
    (or `size` inches each); returns the figure."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, int(np.ceil(n / cols)))
    size = size or COLUMN_IN / cols
    lines = [max((len(t.splitlines()) for t in titles[r * cols:(r + 1) * cols]), default=0) if titles is not None else 0
             for r in range(rows)]  # title lines per row: a grid titled on its first row only needs room there
    height = rows * size + sum(0.22 * n + 0.04 for n in lines)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, height), squeeze=False,
                             gridspec_kw={"height_ratios": [size + 0.22 * n + 0.04 for n in lines]})
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[k], fontsize=FONT_PT)
    fig.tight_layout(pad=0.2)
    return fig


def draw_landmarks(ax, points: np.ndarray, size: float = 4.0) -> None:
    """Scatter the 68 points on `ax`, one colour per facial part (jaw, brows, nose, eyes, mouth)."""
    for part, color in _GROUP_COLORS:
        ax.scatter(points[part, 0], points[part, 1], s=size, c=color, linewidths=0)


def landmark_grid(images: Sequence[np.ndarray], points: Sequence[np.ndarray | None], cols: int = MAX_FACES_PER_ROW,
                  size: float | None = None):
    """Faces with their landmarks drawn; a face without landmarks is titled 'no face found'."""
    fig = image_grid(images, cols=cols, size=size)
    for ax, p in zip(fig.axes, points):
        if p is not None:
            draw_landmarks(ax, p)
        else:
            ax.text(0.5, 0.04, "no face found", transform=ax.transAxes, ha="center", va="bottom", fontsize=FONT_PT,
                    color="white", bbox={"facecolor": "crimson", "edgecolor": "none", "pad": 1.5})
    return fig


def heatmap_montage(heatmaps: np.ndarray, channels: Sequence[int], names: Sequence[str] | None = None,
                    size: float | None = None):
    """The sum of all landmark channels, then the chosen single channels, side by side."""
    panels = [heatmaps.sum(axis=-1)] + [heatmaps[..., c] for c in channels]
    titles = ["all 68 channels (sum)"] + [names[i] if names else f"channel {c}" for i, c in enumerate(channels)]
    return image_grid(panels, titles, cols=len(panels), size=size, cmap="magma")


def training_curves(history: dict, metrics: Sequence[tuple[str, str, str]], baseline: dict[str, float] | None = None):
    """One panel per (title, train key, val key) of `history` against the epoch, two panels per row."""
    cols = min(2, len(metrics))
    rows = int(np.ceil(len(metrics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(COLUMN_IN, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.axis("off")
    for k, (ax, (title, train_key, val_key)) in enumerate(zip(axes.flat, metrics)):
        ax.plot(history["epoch"], history[train_key], "o-", label="train")
        ax.plot(history["epoch"], history[val_key], "s-", label="validation")
        if baseline and title in baseline:
            ax.axhline(baseline[title], color="gray", ls="--", label="majority baseline")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend()
    fig.tight_layout()
    return fig


def trial_sheet_figure(images: Sequence[np.ndarray], sheet=None, pick: Sequence[int] | None = None, title: str = "",
                       size: float | None = None):
    """One trial sheet as people see it (2 x 5 faces, numbered); with its `sheet`, the processed face framed blue and
    labelled, the right answer (green) and a pick (red dashes). In the query form the processed face is the question,
    not a candidate."""
    size = size or COLUMN_IN / 5
    fig, axes = plt.subplots(2, 5, figsize=(5 * size, 2 * size * 1.15))
    for k, ax in enumerate(axes.flat):
        ax.imshow(images[k])
        ax.set_xticks([])
        ax.set_yticks([])
        query = sheet is not None and sheet.form == "query" and k == sheet.processed
        ax.set_title("the question" if query else f"{k + 1}", fontsize=FONT_PT)
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
        fig.suptitle(title)
    fig.tight_layout()
    return fig


_KIND_COLOURS = {"original": PALETTE[2], "unet": PALETTE[0], "warp": PALETTE[4], "baseline": PALETTE[1]}
_MARKERS = "osD^vP*X<>hp"


def privacy_scatter(table: dict[str, dict], labels: dict[str, str], x: str, x_label: str, ax=None, chance: float | None = None,
                    x_scale: float = 1.0):
    """One point per method: identification rate (y) against a naturalness measure (x), coloured by the method's kind
    (`labels['<name>:kind']`) with one marker per method, each labelled for a legend rather than on the plot, where
    the U-Net's points would overlap."""
    ax = ax or plt.gca()
    seen: dict[str, int] = {}
    for name, row in table.items():
        if row.get(x) is None:
            continue
        kind = labels.get(f"{name}:kind", "")
        marker = _MARKERS[seen.get(kind, 0) % len(_MARKERS)]
        seen[kind] = seen.get(kind, 0) + 1
        ax.scatter(row[x] * x_scale, row["recall_at_1"], color=_KIND_COLOURS.get(kind, "#7f7f7f"), marker=marker, s=55,
                   zorder=3, edgecolors="white", linewidths=0.5, label=labels.get(name, name))
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xlabel(x_label)
    ax.set_ylabel("Recall@1 (dlib)")
    ax.set_ylim(-0.03, 1.05)
    ax.grid(alpha=0.3)
    return ax


def privacy_figure(table: dict[str, dict], labels: dict[str, str], chance: float | None = None,
                   panels: Sequence[tuple[str, str, float, bool]] = (
                       ("ssim", "SSIM to the original\n(higher keeps more of the photo)", 1.0, False),
                       ("kid", "KID x1e3 to real faces\n(lower looks more real)", 1e3, True))):
    """Recall@1 against each naturalness measure of `panels` ((key, axis label, scale, lower is better)), side by
    side with one legend of the methods below them: better privacy and naturalness lie low and to the right."""
    fig, axes = plt.subplots(1, len(panels), figsize=(COLUMN_IN, 3.4), sharey=True, squeeze=False)
    for ax, (key, x_label, scale, lower_better) in zip(axes[0], panels):
        privacy_scatter(table, labels, key, x_label, ax, chance, x_scale=scale)
        if lower_better:
            ax.invert_xaxis()
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    legend: dict[str, object] = {}  # every method once, also those a panel lacks (the original has no SSIM)
    for ax in axes[0]:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(name, handle)
    names = [n for n in [labels.get(name, name) for name in table] + ["chance"] if n in legend]  # table order
    fig.legend([legend[n] for n in names], names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               frameon=False)
    fig.tight_layout()
    return fig


def factor_panels(face: np.ndarray, heatmaps: np.ndarray, context: np.ndarray, attribute_lines: Sequence[str]):
    """One face's three factors side by side: the face, its landmark heatmaps summed, its masked context, and the
    attributes as lines of text (e.g. 'Smiling 0.93 [yes]'); returns the figure."""
    height = max(2.1, 0.17 * len(attribute_lines) + 0.45)  # the images' row, or the text's lines if longer
    fig, axes = plt.subplots(1, 4, figsize=(COLUMN_IN, height), gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    titles = ["face", "landmarks (68 heatmaps)", "context"]
    for ax, image, title in zip(axes, [face, heatmaps.sum(axis=-1), context], titles):
        ax.imshow(image, cmap="magma")
        ax.set_title(title, fontsize=FONT_PT)
        ax.axis("off")
    axes[3].text(0, 1, "\n".join(attribute_lines), va="top", family="monospace", fontsize=FONT_PT)
    axes[3].set_title("attributes, p > 0.5 [label]", fontsize=FONT_PT, loc="left")
    axes[3].axis("off")
    fig.tight_layout(pad=0.3)
    return fig


def probe_gallery(probe: np.ndarray, gallery: Sequence[np.ndarray], same: Sequence[bool], distances: Sequence[float],
                  probe_title: str = "probe"):
    """The Recall@1 protocol on one probe: the processed face, then gallery faces (other original photos) sorted by
    their distance to it, each titled with the distance, framed green when it is the probe's person; the first is the
    nearest: Recall@1 counts the probe when that one is green."""
    n = len(gallery) + 1
    size = COLUMN_IN / n
    fig, axes = plt.subplots(1, n, figsize=(COLUMN_IN, size + 0.55))
    for k, (ax, image) in enumerate(zip(axes, [probe, *gallery])):
        ax.imshow(image)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if k == 0:
            ax.set_title(probe_title, fontsize=FONT_PT)
            continue
        ax.set_title(f"{'nearest, ' if k == 1 else ''}{distances[k - 1]:.2f}", fontsize=FONT_PT)
        if same[k - 1]:
            for spine in ax.spines.values():
                spine.set(visible=True, color=PALETTE[2], linewidth=4)
    fig.tight_layout(pad=0.3)
    return fig


def unet_diagram(unet, patchgan, resolution: int):
    """Stage 2's networks as drawn from their configurations (`UNetConfig`, `PatchGANConfig`): the U-Net's encoder and
    decoder levels (channels and map size), its skip connections, the attribute planes injected into the first decoder
    levels, and the PatchGAN that reads the composite with its two heads. Returns the figure."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    depth = unet.depth
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.2))
    ax.set_xlim(-1.4, 2 * depth + 2.6)
    ax.set_ylim(-depth - 2.4, 1.3)
    ax.axis("off")

    def box(x, y, text, colour, w=1.25, h=0.62):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=colour, ec="#444444"))
        ax.text(x, y, text, ha="center", va="center", fontsize=FONT_PT)

    def arrow(a, b, style="-|>", color="#333333", **kw):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, color=color, **kw))

    blue, green, orange, grey = "#cfe8ff", "#d7f5d0", "#ffe2b8", "#e6e6e6"
    box(-0.4, 0.8, f"input\n{unet.in_channels} ch", grey, w=1.3)
    for k in range(depth):
        width, size = unet.base_width * 2**k, resolution // 2**k
        box(k, -k, f"{width} ch\n{size} px", blue)
        box(2 * depth - k, -k, f"{width} ch\n{size} px", green)
        arrow((k + 0.63, -k), (2 * depth - k - 0.63, -k), style="-", linestyle="--", lw=0.8)
        if k < depth - 1:
            arrow((k + 0.2, -k - 0.31), (k + 0.8, -k - 0.69))
            arrow((2 * depth - k - 0.8, -k - 0.69), (2 * depth - k - 0.2, -k - 0.31))
    bottom = unet.base_width * 2**depth
    box(depth, -depth, f"{bottom} ch\n{resolution // 2**depth} px", blue)
    arrow((depth - 1 + 0.2, -depth + 0.69), (depth - 0.2, -depth + 0.31))
    arrow((depth + 0.2, -depth + 0.31), (depth + 0.8, -depth + 0.69))
    arrow((-0.4, 0.49), (-0.1, 0.31))
    for j in range(unet.inject_levels):  # from the coarsest decoder level up
        level = depth - 1 - j
        x = 2 * depth - level
        ax.text(x + 1.05, -level - 0.05, "planes", fontsize=FONT_PT, ha="left", va="center", color=PALETTE[3])
        arrow((x + 1.0, -level), (x + 0.64, -level), color=PALETTE[3])
    box(2 * depth + 0.9, 0.8, "RGB face:\ncomposite", grey, w=1.45)
    arrow((2 * depth + 0.1, 0.31), (2 * depth + 0.6, 0.49))
    critic = f"PatchGAN: {patchgan.n_layers} strided convs, {patchgan.base_width} ch"
    centre = 2 * depth - 0.8
    box(centre, -depth - 1.6, critic, orange, w=3.8, h=0.55)
    arrow((2 * depth + 0.9, 0.49 - 0.62), (2 * depth + 0.9, -depth - 1.32))
    heads = "real / fake per patch" + ("; 40 attributes" if patchgan.attribute_head else "")
    ax.text(centre, -depth - 2.15, heads, ha="center", va="center", fontsize=FONT_PT)
    ax.text(0.5 * depth - 0.5, 1.05, "encoder", ha="center", fontsize=FONT_PT, weight="bold")
    ax.text(1.5 * depth + 0.5, 1.05, "decoder", ha="center", fontsize=FONT_PT, weight="bold")
    fig.tight_layout(pad=0.2)
    return fig


def grouped_bars(frame: pd.DataFrame, columns: Sequence[str], reference: tuple[str, float] | None = None,
                 xlabel: str = "accuracy", xlim: tuple[float, float] = (0.0, 1.0), row_in: float = 0.2):
    """Horizontal bars, one group per row of `frame` (e.g. 40 attributes, top to bottom in the frame's order), one bar
    per column (the first in the palette's blue, the second grey), and an optional (label, value) reference line."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, row_in * len(frame) + 1.0))
    y = np.arange(len(frame))[::-1]
    height = 0.8 / len(columns)
    colours = (PALETTE[0], "#bbbbbb") + PALETTE[1:]
    for k, column in enumerate(columns):
        ax.barh(y + (len(columns) - 1 - 2 * k) * height / 2, frame[column], height, label=column, color=colours[k])
    if reference is not None:
        ax.axvline(reference[1], color=PALETTE[3], ls="--", lw=1, label=reference[0])
    ax.set_yticks(y, frame.index)
    ax.set_xlim(*xlim)
    ax.set_ylim(-0.6, len(frame) - 0.4)
    ax.set_xlabel(xlabel)
    if len(columns) > 1 or reference is not None:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(columns) + (reference is not None), frameon=False)
    fig.tight_layout()
    return fig


def table(frame: pd.DataFrame, formats: Mapping[str, str] | str, caption: str | None = None, gradient: str | None = None,
          gradient_range: tuple[float, float] | None = None):
    """`frame` as a Styler formatted once (a format string for every column, or one per column; columns left out are
    shown as they are), with an optional caption and a red-to-green gradient on one column."""
    styler = frame.style.format(formats if isinstance(formats, str) else dict(formats), na_rep="–")
    if caption:
        styler = styler.set_caption(caption)
    if gradient:
        low, high = gradient_range or (None, None)
        styler = styler.background_gradient(subset=[gradient], cmap="RdYlGn", vmin=low, vmax=high)
    return styler.set_table_styles([{"selector": "td, th", "props": [("font-size", "0.85em"), ("padding", "2px 6px")]}],
                                   overwrite=False)


def landmark_flip_figure(mapping, flips: Sequence[str], gain: float = 1.0, panel: float | None = None):
    """What flipping each attribute does to the 68 points: the landmark mapping's mean face (grey) and the same face with
    the attribute switched on (coloured, moved by `gain` x its coefficient), arrows scaled up 5x so a small move shows;
    one panel per flip, each titled with its mean move in inter-ocular distances. Returns the figure."""
    from faceobf.disentangle.attributes import attribute_index
    from faceobf.disentangle.geometry import TEMPLATE_INTER_OCULAR

    base = np.asarray(mapping.intercept)
    panel = panel or COLUMN_IN / len(flips)
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
        ax.set_title(f"+{name}\nmean move {mean_iod:.3f} IOD", fontsize=FONT_PT)
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.axis("off")
    fig.tight_layout()
    return fig


def before_after(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str], columns: Sequence[str] = ("input", "output"),
                 column_px: int = COLUMN_PX, dpi: int = DPI):
    """Each row's crops (input, then outputs) side by side at native size where the page column allows (else all shrunk
    by one factor, so sizes stay comparable), one sub-figure per row, the first panel titled with the row's title and
    the others with `columns`; returns the figure."""
    widest = max(sum(image.shape[1] for image in row) for row in rows)
    scale = min(1.0, column_px / widest)
    heights = [max(image.shape[0] for image in row) * scale / dpi + 0.3 for row in rows]
    fig = plt.figure(figsize=(widest * scale / dpi + 0.2, sum(heights)), layout="constrained")
    subfigures = np.atleast_1d(fig.subfigures(len(rows), 1, height_ratios=heights))
    for sub, row, title in zip(subfigures, rows, titles):
        axes = np.atleast_1d(sub.subplots(1, len(row), gridspec_kw={"width_ratios": [im.shape[1] for im in row]}))
        for j, (ax, image) in enumerate(zip(axes, row)):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(f"{title}: {columns[0]}" if j == 0 else columns[j], fontsize=FONT_PT)
            ax.axis("off")
    return fig
