"""Frame sources: cameras, video files, and a synthetic walk-up scene built from real photographs."""
