"""Real-time face detection for the gate loop: motion gating, face tracks and region-of-interest scans."""
