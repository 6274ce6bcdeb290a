"""Face-engine errors with stable codes (the CLI's `error.code`, the server's per-row results)."""

from menwei.errors import MenweiError


class FaceError(MenweiError):
    code = "face_error"


# Stable codes; tools and the server's import report key on them.
UNREADABLE_IMAGE = "unreadable_image"
BAD_IMAGE = "bad_image"  # an image array no detector can look at (empty, wrong channel count)
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
FACE_TOO_SMALL = "face_too_small"
FACE_BLURRED = "face_blurred"
FACE_POSE = "face_pose"
FACE_EXPOSURE = "face_exposure"
EMPTY_GALLERY = "empty_gallery"
LICENSE_NOT_ACCEPTED = "license_not_accepted"
