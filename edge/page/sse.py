"""Feed items as server-sent events: one `event:`/`id:`/`data:` frame each, the face crop as a
data: URL the page can show at once (the crop never goes anywhere but this authenticated stream)."""

from __future__ import annotations

import base64
import json

from edge.agent.feed import FeedItem


def item_json(item: FeedItem) -> dict:
    data = dict(item.data)
    jpeg = data.pop("face_jpeg", None)
    if jpeg is not None:
        data["face"] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return {"id": item.id, "kind": item.kind, **data}


def frame(item: FeedItem) -> str:
    # one data line: JSON has no raw newlines, so the frame cannot be split
    return f"event: {item.kind}\nid: {item.id}\ndata: {json.dumps(item_json(item), default=str)}\n\n"
