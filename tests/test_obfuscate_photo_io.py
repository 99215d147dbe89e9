"""Reading photos of every common kind, named errors, metadata-free atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceobf.data import ImageReadError
from faceobf.obfuscate.photo_io import read_photo, write_photo


def _rgb(h: int = 40, w: int = 60) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_grayscale_rgba_and_16_bit_png_become_8_bit_rgb(tmp_path: Path) -> None:
    gray = (np.arange(40 * 60) % 256).astype(np.uint8).reshape(40, 60)
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    out = read_photo(tmp_path / "gray.png")
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8 and (out[..., 0] == gray).all()

    rgba = np.dstack([_rgb(), np.full((40, 60), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_photo(tmp_path / "rgba.png"), rgba[..., :3])

    deep = (np.arange(40 * 60) * 27).astype(np.uint16).reshape(40, 60)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = read_photo(tmp_path / "deep.png")
    assert out.dtype == np.uint8 and out.shape == (40, 60, 3)
    np.testing.assert_allclose(out[..., 0].astype(float), deep / 65535 * 255, atol=1)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = _rgb(40, 60)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(pixels).save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    out = read_photo(tmp_path / "rotated.jpg")
    assert out.shape == (60, 40, 3)  # upright: width and height swapped


def test_truncated_jpeg_and_non_image_are_named_errors(tmp_path: Path) -> None:
    Image.fromarray(_rgb(200, 200)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.jpg: cannot read photo"):
        read_photo(tmp_path / "cut.jpg")
    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: cannot read photo \(not an image\)"):
        read_photo(tmp_path / "notes.jpg")


def test_output_carries_no_metadata_from_the_input(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    Image.fromarray(_rgb()).save(tmp_path / "in.jpg", exif=exif, comment=b"secret place")
    with Image.open(tmp_path / "in.jpg") as im:
        assert im.getexif().get_ifd(0x8825), "fixture must carry GPS"
    for suffix in (".jpg", ".png"):
        out = write_photo(read_photo(tmp_path / "in.jpg"), tmp_path / f"out{suffix}", inputs=[tmp_path / "in.jpg"])
        with Image.open(out) as im:
            assert len(im.getexif()) == 0 and not im.getexif().get_ifd(0x8825)
            assert not {"exif", "comment", "xmp", "icc_profile"} & set(im.info)
        assert b"secret place" not in out.read_bytes() and b"CameraMaker" not in out.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg", "out.jpg", "out.png"]  # no temporary left


def test_an_input_is_never_overwritten(tmp_path: Path) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "in.png")
    before = (tmp_path / "in.png").read_bytes()
    with pytest.raises(ValueError, match="refusing to overwrite an input"):
        write_photo(np.zeros((4, 4, 3), np.uint8), tmp_path / "sub" / ".." / "in.png", inputs=[tmp_path / "in.png"])
    assert (tmp_path / "in.png").read_bytes() == before
    with pytest.raises(ValueError, match="unsupported output format"):
        write_photo(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.gif")
