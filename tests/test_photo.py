"""The photo path: big JPEGs read at the scale each step needs, faces always in the photo's own pixels."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from faceid_gui.engine import decode_image, distance, load_image
from faceid_gui.engine.align import CANONICAL_SIZE, align_face, template
from faceid_gui.engine.imageio import rescale_points
from faceid_gui.engine.photo import Photo, align_reduction


def _jpeg(rgb: np.ndarray, path=None, **kw) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=92, **kw)
    if path is not None:
        path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _big_photo(astronaut, tmp_path, side=4000):
    """The astronaut upscaled into a phone-sized photo (its face about 750 px across at 4000 px)."""
    big = cv2.resize(astronaut, (side, side * 3 // 4), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "big.jpg"
    _jpeg(big, path)
    return path


def test_jpeg_decodes_reduced_with_its_orientation():
    rgb = np.random.default_rng(0).integers(0, 255, (61, 90, 3), dtype=np.uint8)
    assert decode_image(_jpeg(rgb), "p.jpg", reduce=4).shape == (16, 23, 3)  # libjpeg rounds up
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6  # shown turned a quarter
    assert decode_image(_jpeg(rgb, exif=exif), "r.jpg", reduce=2).shape == (45, 31, 3)


def test_other_formats_are_decoded_whole(tmp_path):
    rgb = np.zeros((40, 64, 3), np.uint8)
    ok, png = cv2.imencode(".png", rgb)
    path = tmp_path / "p.png"
    path.write_bytes(png.tobytes())
    jpeg = tmp_path / "p.jpg"
    jpeg.write_bytes(_jpeg(rgb))
    assert not Photo(path).reducible and Photo(jpeg).reducible
    image, reduced = Photo(path).pixels(4)
    assert image.shape == (40, 64, 3) and reduced == 1
    with pytest.raises(ValueError):
        Photo(path).pixels(3)


@pytest.mark.parametrize("crop_px_per_photo_px, coarsest, expected", [
    (1.5, 8, 1), (0.6, 8, 1), (0.4, 8, 2), (0.2, 8, 4), (0.1, 8, 8), (0.01, 8, 8), (0.01, 2, 2)])
def test_faces_are_aligned_from_a_decode_with_a_pixel_for_each_crop_pixel(crop_px_per_photo_px, coarsest, expected):
    landmarks = template(CANONICAL_SIZE) / crop_px_per_photo_px + 100
    assert align_reduction([landmarks], coarsest) == expected
    assert align_reduction([landmarks, template(CANONICAL_SIZE)], coarsest) == 1  # the smallest face decides


def test_reduced_pixels_are_placed_at_the_centre_of_the_photo_pixels_they_average():
    assert np.allclose(rescale_points(np.array([[0.0, 1.0]]), 1 / 2), [[-0.25, 0.25]])
    assert np.allclose(rescale_points(np.array([[0.0, 1.0]]), 4), [[1.5, 5.5]])  # 1/4 decode pixel 0: photo 0..3
    points = np.random.default_rng(0).uniform(0, 500, (5, 2))
    assert np.allclose(rescale_points(rescale_points(points, 0.25), 4), points)
    # A quarter decode of a photo holds the same picture, so a face aligned from it lands where the photo's does.
    rng = np.random.default_rng(1)
    photo = cv2.resize(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC)
    marks = template(CANONICAL_SIZE) * 3 + 120
    whole = align_face(photo, marks, CANONICAL_SIZE).astype(int)
    quarter = cv2.resize(photo, (160, 120), interpolation=cv2.INTER_AREA)
    centred = align_face(quarter, rescale_points(marks, 1 / 4), CANONICAL_SIZE)
    cornered = align_face(quarter, marks / 4, CANONICAL_SIZE)
    assert np.abs(centred - whole).mean() < 0.5 * np.abs(cornered - whole).mean()


@pytest.mark.parametrize("longest, expected", [(0, 1), (800, 1), (1280, 1), (1281, 2), (4000, 4), (10240, 8),
                                               (40000, 8)])
def test_detection_reads_the_scale_the_search_would_shrink_to(engine, longest, expected):
    assert engine.detector.photo_reduction(longest) == expected


def test_big_photo_gives_the_same_face_as_the_whole_decode(engine, astronaut, tmp_path):
    path = _big_photo(astronaut, tmp_path)
    result = engine.analyze_path(path)
    whole = engine.analyze(load_image(path))
    assert result.scale == 0.25 and result.image.shape == (750, 1000, 3)
    assert len(result.faces) == len(whole) == 1
    face, reference = result.faces[0], whole[0]
    side = np.sqrt(reference.face.area)
    assert np.abs(face.face.landmarks - reference.face.landmarks).max() < 0.02 * side  # in the photo's pixels
    assert distance(face.embedding, reference.embedding) < 0.1
    assert face.canonical.shape == (CANONICAL_SIZE, CANONICAL_SIZE, 3)


def test_small_photo_path_is_the_whole_decode(engine, tmp_path):
    from .conftest import sample

    result = engine.analyze_path(sample("astronaut.jpg"))
    whole = engine.analyze(load_image(sample("astronaut.jpg")))
    assert result.scale == 1.0
    assert np.allclose(result.faces[0].embedding, whole[0].embedding, atol=1e-5)


def test_canonical_crop_from_a_big_photo(engine, astronaut, tmp_path):
    path = _big_photo(astronaut, tmp_path)
    face = engine.analyze_path(path).faces[0]
    crop = Photo(path).canonical(face.face.landmarks)
    assert crop.shape == face.canonical.shape
    assert np.abs(crop.astype(int) - face.canonical).mean() < 1.0  # the same decode, the same warp


def test_a_heic_photo_takes_the_same_path_whole(engine, astronaut, tmp_path):
    from . import hostile

    result = engine.analyze_path(hostile.heic_of(astronaut, tmp_path / "phone.heic", orientation=6))
    assert result.scale == 1.0 and result.image.shape == astronaut.shape and len(result.faces) == 1
