"""The gate pipeline: frames in, one decision per person out (detect → track → quality → best frames →
embed → 1:N match → thermal reading → policy), every stage timed. See docs/ARCHITECTURE.md."""
