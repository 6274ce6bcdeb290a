"""Thermal screening: sensor drivers and decoders, RGB→thermal registration, the temperature
estimate and its policy. See docs/THERMAL.md for formats, compensation defaults and limits.

Commodity sensors are a triage aid: every fever alarm needs a clinical re-check.
"""
