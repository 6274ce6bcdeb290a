"""Per-compound face galleries: build from stored embeddings, version, serve, announce to gates."""
