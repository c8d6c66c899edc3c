"""``write_preview``: a PNG grid from frames or a folder, oriented like the camera."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmzoo.data.frames import Frames
from mmzoo.data.preview import colormap, depth_panel, preview_image, preview_indices, top_view_panel, write_preview
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, ZENITH
from mmzoo.data.sets import generate


@pytest.fixture(scope="module")
def frames() -> Frames:
    return generate("shapes", 4, seed=0)


def test_write_preview_from_frames(tmp_path, frames):
    out = write_preview(frames, tmp_path / "sub" / "grid.png", n=3)
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        grid = np.asarray(image)
    small = np.asarray(preview_image(frames, n=1))
    assert grid.shape[1] == small.shape[1] and grid.shape[0] > 2.5 * small.shape[0]
    assert grid.max() > 200, "the panels are not blank"


def test_n_is_clipped_to_the_frame_count(frames):
    assert preview_image(frames, n=50).height == preview_image(frames, n=len(frames)).height


def test_write_preview_from_a_folder(tmp_path):
    from mmzoo.data.writers import write_folder

    folder = write_folder(generate("cubes", 3, seed=2), tmp_path / "cubes")
    out = write_preview(folder, tmp_path / "grid.png", n=2)
    assert out.is_file() and Image.open(out).size[0] > 0


def test_empty_frames_are_refused(frames):
    with pytest.raises(ValueError, match="empty"):
        preview_image(frames.subset(slice(0, 0)))


def test_colormap_ends_and_no_return_is_black():
    ramp = colormap(np.array([0.0, 1.0]))
    assert ramp.dtype == np.uint8 and tuple(ramp[0]) == (68, 1, 84) and tuple(ramp[1]) == (253, 231, 37)
    depth = np.full((64, 64), MAX_RANGE, dtype=np.float32)
    assert (depth_panel(depth) == 0).all()


def test_depth_panel_is_oriented_like_the_camera():
    # A return at negative azimuth (+x, image right) and negative zenith (+z, image up).
    depth = np.full((64, 64), MAX_RANGE, dtype=np.float32)
    depth[5, 8] = 25.0
    assert AZIMUTH[5] < 0 and ZENITH[8] < 0
    rows, cols = np.nonzero(depth_panel(depth).any(axis=-1))
    assert rows.tolist() == [8] and cols.tolist() == [63 - 5]


def test_top_view_places_points_by_x_and_distance():
    depth = np.full((64, 64), MAX_RANGE, dtype=np.float32)
    depth[32, 32] = 27.0  # straight ahead: x = 0, y = 27
    image = top_view_panel(depth, AZIMUTH, ZENITH, size=128)
    rows, cols = np.nonzero(image.any(axis=-1))
    assert cols.tolist() == [64] and rows.tolist() == [int((39 - 27) / 24 * 128)]


def test_preview_shows_every_class_of_a_class_sorted_folder():
    labels = np.array([0] * 5 + [1] * 5)
    frames = Frames(rgba=np.zeros((10, 64, 64, 4), np.uint8), depth=np.full((10, 64, 64), 50.0, np.float32),
                    labels=labels, class_names=("cube", "sphere"))
    assert preview_indices(frames, 4) == [0, 5, 1, 6]
    assert preview_indices(frames.subset(slice(0, 5)), 3) == [0, 1, 2]
