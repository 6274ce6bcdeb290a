"""Pack runtimes: each turns a manifest + files into detector, landmarker and embedder objects."""
