"""The face engine: detect → 5 landmarks → align → quality → embed → match."""
