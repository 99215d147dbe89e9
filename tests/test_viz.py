"""The book's figure style: figures that fit the page column, fonts readable there, tables formatted once."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from faceobf import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _style():
    with plt.rc_context():
        viz.book_style()
        yield
    plt.close("all")


def _pixels(fig) -> tuple[float, float]:
    width, height = fig.get_size_inches()
    return width * fig.dpi, height * fig.dpi


def test_a_grid_of_many_faces_fills_the_column_with_faces_of_about_a_hundred_pixels() -> None:
    faces = [np.zeros((64, 64, 3), np.uint8)] * 16
    fig = viz.image_grid(faces, [f"face {k}" for k in range(16)])
    width, _ = _pixels(fig)
    assert width == pytest.approx(viz.COLUMN_PX, abs=1)
    assert len([ax for ax in fig.axes if ax.images]) == 16
    assert min(ax.get_window_extent().width for ax in fig.axes if ax.images) >= 95


def test_every_text_of_a_styled_figure_is_at_least_the_books_font_size() -> None:
    history = {"epoch": [1, 2, 3], "a": [1.0, 0.5, 0.2], "b": [1.1, 0.7, 0.4], "c": [0.1, 0.2, 0.3], "d": [0.2, 0.3, 0.3]}
    fig = viz.training_curves(history, [("loss", "a", "b"), ("accuracy", "c", "d"), ("again", "a", "d")])
    fig.canvas.draw()
    sizes = [t.get_fontsize() for ax in fig.axes for t in [ax.title, ax.xaxis.label, *ax.get_xticklabels()] if t.get_text()]
    assert sizes and min(sizes) >= viz.FONT_PT
    assert _pixels(fig)[0] <= viz.COLUMN_PX + 1
    assert sum(ax.get_visible() and ax.axison for ax in fig.axes) == 3  # the fourth panel of the 2x2 grid is empty


def test_the_privacy_figure_names_every_method_in_one_legend_instead_of_on_the_points() -> None:
    table = {"original": {"ssim": 1.0, "kid": 0.01, "recall_at_1": 0.99},
             "flip4": {"ssim": 0.8, "kid": 0.012, "recall_at_1": 0.3},
             "blur_s8": {"ssim": 0.7, "kid": 0.05, "recall_at_1": 0.1}}
    labels = {"original": "original", "flip4": "4 flips", "blur_s8": "blur", "original:kind": "original",
              "flip4:kind": "unet", "blur_s8:kind": "baseline"}
    fig = viz.privacy_figure(table, labels, chance=1 / 22)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["original", "4 flips", "blur", "chance"]
    assert not [t for ax in fig.axes for t in ax.texts]  # no labels drawn beside the points


def test_the_privacy_figure_legend_keeps_a_method_that_one_panel_lacks() -> None:
    table = {"original": {"ssim": None, "kid": 0.003, "recall_at_1": 0.99},  # no SSIM to itself
             "flip4": {"ssim": 0.8, "kid": 0.012, "recall_at_1": 0.3}}
    labels = {"original": "original", "flip4": "4 flips", "original:kind": "original", "flip4:kind": "unet"}
    (legend,) = viz.privacy_figure(table, labels, chance=1 / 22).legends
    assert [t.get_text() for t in legend.get_texts()] == ["original", "4 flips", "chance"]


def test_a_table_keeps_each_columns_format() -> None:
    frame = pd.DataFrame({"accuracy": [0.1534, 0.9], "images_per_s": [12.72441, 7.0]}, index=["a", "b"])
    html = viz.table(frame, {"accuracy": "{:.1%}", "images_per_s": "{:.1f}"}).to_html()
    assert "15.3%" in html and "12.7" in html and "0.1534" not in html and "12.72441" not in html


def test_crops_side_by_side_keep_their_pixels_when_the_column_allows() -> None:
    row = [np.zeros((200, 210, 3), np.uint8)] * 3
    fig = viz.before_after([row], ["a face"], columns=("input", "64 px", "upscaled"))
    fig.canvas.draw()
    widths = [ax.get_window_extent().width for ax in fig.axes]
    assert len(widths) == 3 and all(abs(w - 210) <= 12 for w in widths)


def test_the_probe_and_gallery_figure_frames_the_probes_person_only() -> None:
    faces = [np.full((32, 32, 3), k * 40, np.uint8) for k in range(5)]
    fig = viz.probe_gallery(faces[0], faces[1:], [False, True, False, True], [0.41, 0.45, 0.52, 0.6])
    framed = [ax for ax in fig.axes if any(s.get_visible() for s in ax.spines.values())]
    assert [ax.get_title() for ax in framed] == ["0.45", "0.60"]
    assert fig.axes[1].get_title() == "nearest, 0.41"


def test_the_unet_diagram_is_drawn_from_the_configuration() -> None:
    from faceobf.models.unet import PatchGANConfig, UNetConfig

    fig = viz.unet_diagram(UNetConfig(base_width=16, depth=3, inject_levels=1), PatchGANConfig(attribute_head=True), 64)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"16 ch\n64 px", "32 ch\n32 px", "64 ch\n16 px", "128 ch\n8 px"} <= set(texts)  # 3 levels and the bottleneck
    assert texts.count("planes") == 1 and any("40 attributes" in t for t in texts)
