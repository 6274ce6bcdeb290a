"""Menwei: the pieces both sides share — the `menwei` command and the MQTT wire contract."""

__version__ = "0.1.0"
