"""The gallery file carries what the gate's policy needs: status, validity window and schedule."""

from datetime import UTC, datetime

import numpy as np

from edge.face.gallery import Gallery
from edge.policy import Evidence, GateCounters, Identity, Liveness, PolicyConfig, decide
from menwei.wire import Direction, TemperatureStatus
from server.gallery.build import GalleryEntry, build_gallery


def test_schedule_travels_through_the_gallery_file_to_the_policy():
    sched = {"mon": [["08:00", "18:00"]]}
    vec = np.ones(128, np.float32) / np.sqrt(128)
    built = build_gallery("dlib-resnet-v1", 128, 3, [GalleryEntry("w1", vec, "visitor", schedule=sched),
                                                      GalleryEntry("r1", vec, "resident")])
    g = Gallery.from_bytes(built.data)
    assert g.attributes["w1"]["schedule"] == sched
    assert "schedule" not in g.attributes["r1"]  # absent = any time

    def verdict(rid, at):
        ev = Evidence(Identity(rid, 0.9, g.attributes[rid]), 36.5, TemperatureStatus.NORMAL, Liveness(None),
                      Direction.IN, at)
        return decide(PolicyConfig(), ev, GateCounters())[0]

    monday_20h_shanghai = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert verdict("w1", monday_20h_shanghai).reasons[1] == "outside_schedule"
    assert verdict("w1", datetime(2026, 12, 7, 1, 0, tzinfo=UTC)).decision == "granted"  # 09:00
    assert verdict("r1", monday_20h_shanghai).decision == "granted"
