"""Fixtures shared with the interop tests (Postfix smtp-sink, relay processes)."""

from interop_tools import smtp_sink

__all__ = ["smtp_sink"]
