"""Face crop, the decoded-image cache and the batch iterator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceobf.data import FACE_CROP, CelebA, ImageReadError, crop_and_resize, epoch_order, iterate_batches, read_rgb
from faceobf.data.images import aligned_to_crop


def test_face_crop_is_a_resized_square(celeba_dir: Path) -> None:
    ds = CelebA.open(celeba_dir)
    aligned = ds.read_aligned(0)
    assert aligned.shape == (218, 178, 3)
    crop = crop_and_resize(aligned, FACE_CROP, 96)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    # Same pixels as cutting rows 30..207 by hand and resizing.
    full = crop_and_resize(aligned, FACE_CROP, 178)
    np.testing.assert_array_equal(full, aligned[30:208, 0:178])
    np.testing.assert_allclose(aligned_to_crop(np.array([[0.0, 30.0], [178.0, 208.0]]), FACE_CROP, 96), [[0, 0], [96, 96]])


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        read_rgb(bad)


def test_cache_decodes_each_image_once(celeba_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = CelebA.open(celeba_dir)
    calls: list[int] = []
    original = CelebA.read_aligned

    def counting(self, row):
        calls.append(row)
        return original(self, row)

    monkeypatch.setattr(CelebA, "read_aligned", counting)
    first = ds.images(np.array([0, 3, 5]), 64, progress=False)
    assert sorted(calls) == [0, 3, 5]
    again = CelebA.open(celeba_dir).images(np.array([5, 0, 3, 7]), 64, progress=False)  # a new process would see the same files
    assert sorted(calls) == [0, 3, 5, 7]
    np.testing.assert_array_equal(again[1], first[0])
    assert first.shape == (3, 64, 64, 3)
    floats = ds.float_images(np.array([0, 3]), 64, progress=False)
    assert floats.dtype == np.float32 and floats.max() <= 1.0
    np.testing.assert_allclose(floats[1] * 255, first[1], atol=1e-3)
    # Another resolution is another cache.
    ds.images(np.array([0]), 32, progress=False)
    assert calls.count(0) == 2


def test_epoch_order_is_deterministic_and_differs_between_epochs() -> None:
    np.testing.assert_array_equal(epoch_order(100, seed=1, epoch=3), epoch_order(100, seed=1, epoch=3))
    assert not np.array_equal(epoch_order(100, seed=1, epoch=3), epoch_order(100, seed=1, epoch=4))
    assert sorted(epoch_order(100, 1, 3)) == list(range(100))
    np.testing.assert_array_equal(epoch_order(5, 0, 0, shuffle=False), np.arange(5))


@pytest.mark.parametrize("prefetch", [0, 2])
def test_batches_cover_the_epoch_once_and_are_reproducible(prefetch: int) -> None:
    images = np.arange(10 * 4 * 4 * 3, dtype=np.uint8).reshape(10, 4, 4, 3)
    labels = np.arange(10, dtype=np.float32)[:, None]
    run = lambda: list(iterate_batches((images, labels), 3, seed=7, epoch=2, hflip=True, prefetch=prefetch))
    a, b = run(), run()
    assert len(a) == 3  # drop_last: 9 of 10 images
    rows = np.concatenate([x.rows for x in a])
    assert len(set(rows.tolist())) == 9
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x.arrays[0]), np.asarray(y.arrays[0]))
    for batch in a:
        batch_images, batch_labels = (np.asarray(v) for v in batch.arrays)
        assert batch_images.dtype == np.uint8  # bytes travel to the device; the step converts them
        np.testing.assert_array_equal(batch_labels[:, 0], batch.rows)
        for img, row in zip(batch_images, batch.rows):
            assert np.array_equal(img, images[row]) or np.array_equal(img, images[row][:, ::-1])
    flipped = [not np.array_equal(img, images[r]) for x in a for img, r in zip(np.asarray(x.arrays[0]), x.rows)]
    assert any(flipped) and not all(flipped)


def test_an_epoch_limit_draws_a_fresh_share_each_epoch_with_the_same_flips_per_item() -> None:
    images = np.arange(40 * 2 * 2 * 3, dtype=np.uint8).reshape(40, 2, 2, 3)
    labels = np.arange(40, dtype=np.float32)[:, None]
    epochs = [list(iterate_batches((images, labels), 4, seed=1, epoch=e, hflip=True, limit=12)) for e in (0, 1)]
    rows = [np.concatenate([b.rows for b in batches]) for batches in epochs]
    assert [len(r) for r in rows] == [12, 12] and set(rows[0]) != set(rows[1])
    np.testing.assert_array_equal(rows[0], epoch_order(40, 1, 0)[:12])
    full = {r: np.asarray(img) for b in iterate_batches((images, labels), 4, seed=1, epoch=0, hflip=True)
            for img, r in zip(np.asarray(b.arrays[0]), b.rows)}
    for b in epochs[0]:  # an item is flipped or not as in the unlimited epoch
        for img, r in zip(np.asarray(b.arrays[0]), b.rows):
            np.testing.assert_array_equal(img, full[r])


def test_batch_errors_reach_the_consumer() -> None:
    class Exploding(np.ndarray):
        def __getitem__(self, item):
            raise RuntimeError("disk gone")

    images = np.zeros((4, 2, 2, 3), np.uint8).view(Exploding)
    with pytest.raises(RuntimeError, match="disk gone"):
        list(iterate_batches((images, np.zeros((4, 1))), 2, prefetch=2))


def test_group_photo_places_every_tile_where_its_box_says() -> None:
    from faceobf.data.group_photo import group_photo

    rng = np.random.default_rng(1)
    tiles = [rng.integers(0, 256, (218, 178, 3), dtype=np.uint8) for _ in range(5)]
    scales = [1.0, 0.7, 0.5, 0.3, 0.2]
    photo, boxes = group_photo(tiles, scales, width=400)
    assert photo.dtype == np.uint8 and photo.shape[1] == 400 and len(boxes) == 5
    for (left, top, right, bottom), scale in zip(boxes, scales):
        assert right - left == round(178 * scale) and bottom - top == round(218 * scale)
        assert 0 <= left < right <= photo.shape[1] and 0 <= top < bottom <= photo.shape[0]
    assert boxes[0] == (12, 12, 190, 230)  # the first tile unscaled, at the margin
    np.testing.assert_array_equal(photo[12:230, 12:190], tiles[0])
    for a in range(5):  # no two tiles overlap
        for b in range(a + 1, 5):
            (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes[a], boxes[b]
            assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1
    with pytest.raises(ValueError, match="scales"):
        group_photo(tiles, scales[:2])


def test_a_pan_and_zoom_clip_keeps_the_frame_size_and_moves_the_view() -> None:
    from skimage import data

    from faceobf.data.clips import pan_zoom

    frames = pan_zoom(data.astronaut(), 5, size=(160, 90))
    assert len(frames) == 5 and all(f.shape == (90, 160, 3) and f.dtype == np.uint8 for f in frames)
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 5  # the view moved


def test_a_face_clip_keeps_the_face_in_the_middle_of_the_frame_at_the_asked_height() -> None:
    from faceobf.data.clips import face_clip

    photo = np.zeros((1000, 1600, 3), np.uint8)
    photo[600:700, 1200:1280] = 255  # a "face" 80 x 100 px far from the photo's centre
    middle = face_clip(photo, (1200, 600, 1280, 700), 3, size=(320, 180), face_height=0.4, zoom=0.0)[1]
    rows, cols = np.nonzero(middle[..., 0] > 127)
    assert abs(rows.mean() - 90) < 2 and abs(cols.mean() - 160) < 2  # centred in the middle frame (t = 0.5: no pan)
    assert abs((rows.max() - rows.min() + 1) - 0.4 * 180) <= 2  # 40% of the frame's height
