from __future__ import annotations

import pytest

from edge.face import errors
from edge.face.errors import FaceError
from edge.face.image_io import decode_image, load_image


def test_truncated_jpeg_is_unreadable(tmp_path, faces_dir):
    data = (faces_dir / "misc/obama-480p.jpg").read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(data[:200])
    with pytest.raises(FaceError) as exc:
        load_image(bad)
    assert exc.value.code == errors.UNREADABLE_IMAGE


@pytest.mark.parametrize("payload", [b"", b"not an image at all", b"\xff\xd8\xff" + b"\x00" * 64])
def test_garbage_is_unreadable(payload):
    with pytest.raises(FaceError) as exc:
        decode_image(payload, "x.jpg")
    assert exc.value.code == errors.UNREADABLE_IMAGE


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(FaceError) as exc:
        load_image(tmp_path / "nope.jpg")
    assert exc.value.code == errors.UNREADABLE_IMAGE
