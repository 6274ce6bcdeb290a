"""A tiny MJPEG-over-HTTP camera (multipart/x-mixed-replace, as IP cameras serve it) for the stream
tests: `python mjpeg_server.py PORT PHOTO [--fps 25] [--stall-after N]`. It serves the photo,
numbered per frame, and prints "ready" once it listens. --stall-after N keeps the connection open
but sends nothing after N frames (a hung camera)."""

from __future__ import annotations

import argparse
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler

import cv2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("port", type=int)
    ap.add_argument("photo")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--stall-after", type=int, default=0)
    args = ap.parse_args()
    base = cv2.resize(cv2.imread(args.photo), (320, 180))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            n = 0
            while True:
                if args.stall_after and n >= args.stall_after:
                    time.sleep(3600)
                img = base.copy()
                cv2.putText(img, str(n), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 255), 3)
                jpg = cv2.imencode(".jpg", img)[1].tobytes()
                try:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg))
                    self.wfile.write(jpg + b"\r\n")
                except OSError:
                    return
                n += 1
                time.sleep(1 / args.fps)

        def log_message(self, *a):
            pass

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", args.port), Handler) as srv:
        print("ready", flush=True)
        sys.stdout.close()
        srv.serve_forever()


if __name__ == "__main__":
    main()
