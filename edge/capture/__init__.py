"""Frame sources behind one interface (source.py: `open_source(spec)` picks the kind from the spec).

- v4l2.py: a V4L2 camera (/dev/videoN) opened in the mode of its profile (profiles.py,
  firmware_configs/cameras/*.yaml);
- stream.py: an RTSP or HTTP(S) network camera through OpenCV's FFmpeg backend, with timeouts;
- files.py: a video file or a folder of images;
- synthetic.py: named synthetic gate scenes (walk-up, pair, stranger, fever, ...) built from the
  real test photographs, with ground truth;
- capture.py: a source read in its own thread (newest frame only, stall watchdog, reconnection).
"""
