"""A compound that requires masks: a resident with a painted mask walks through the gate loop and
is named with mask=True; the same resident unmasked is named with mask=False and refused for
mask_missing. The event the agent makes carries the flag; payloads without it still validate."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from edge.agent.events import EventFactory
from edge.capture.source import Frame
from edge.face.mask_paint import load_texture, paint_mask
from edge.face.packs.base import Detection
from edge.face.probes import as_frame, hand_checked
from edge.pipeline.loop import GatePipeline
from edge.policy import PolicyConfig
from menwei.wire import EntryEvent, Reason

PHOTO = "knn_examples/test/alex_lacamoire1.jpg"  # face_boxes.json: one face, alex_lacamoire's
RESIDENT = "alex_lacamoire"


def _frame_image(engine, faces_dir, colour: str | None):
    from edge.face.image_io import load_image

    image = load_image(faces_dir / PHOTO)
    (box,) = hand_checked(faces_dir)[PHOTO]
    if colour is not None:
        lm = engine.runtime.landmarker.landmarks(image, Detection(box, 1.0))
        image = paint_mask(image, box, lm, load_texture(faces_dir / "insightface", colour))
    frame, _ = as_frame(image, [box])
    return frame


def _walk(engine, gallery, image, policy):
    """The same frame for one second at 25 fps, then the end of the stream."""
    pipeline = GatePipeline(engine, gallery, policy=policy, start=datetime(2026, 12, 7, 9, tzinfo=UTC))
    decisions = []
    for i in range(25):
        decisions += pipeline.process(Frame(image, i, i / 25))
    decisions += pipeline.finish()
    assert len(decisions) == 1
    return decisions[0]


# green: a texture the masked templates were not painted with (edge/face/masked.py paints blue and
# black); blue: one they were
@pytest.mark.parametrize("colour", ["green", "blue"])
def test_a_masked_resident_is_named_and_let_through_where_masks_are_required(engine, gallery, faces_dir, colour):
    d = _walk(engine, gallery, _frame_image(engine, faces_dir, colour), PolicyConfig(mask_required=True))
    assert d.identity == RESIDENT and d.mask is True
    assert Reason.MASK_MISSING not in d.reasons and Reason.RESIDENT_RECOGNISED in d.reasons


def test_an_unmasked_resident_is_named_and_refused_for_the_missing_mask(engine, gallery, faces_dir):
    image = _frame_image(engine, faces_dir, None)
    d = _walk(engine, gallery, image, PolicyConfig(mask_required=True))
    assert d.identity == RESIDENT and d.mask is False
    assert d.decision == "denied" and Reason.MASK_MISSING in d.reasons
    # the same face where masks are not required: no mask reason
    d = _walk(engine, gallery, image, PolicyConfig())
    assert d.identity == RESIDENT and Reason.MASK_MISSING not in d.reasons


def test_the_entry_event_carries_the_mask_and_old_payloads_still_validate(engine, gallery, faces_dir):
    d = _walk(engine, gallery, _frame_image(engine, faces_dir, "green"), PolicyConfig(mask_required=True))
    factory = EventFactory("site1", "gate1", "in", engine.pack, None)
    event = factory.from_decision(1, d, gallery.version, None)
    assert event.person.mask is True
    assert EntryEvent.model_validate_json(event.to_json()).person.mask is True
    # a payload as gates wrote it before: no mask key; it validates and the mask is not known
    doc = json.loads(event.to_json())
    del doc["person"]["mask"]
    assert EntryEvent.model_validate(doc).person.mask is None
    # and a decision with no mask known leaves the key out
    unknown = factory.from_decision(2, dataclasses.replace(d, mask=None), gallery.version, None)
    assert "mask" not in json.loads(unknown.to_json())["person"]
