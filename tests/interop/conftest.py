"""Fixtures of the interop tests (defined in interop_tools)."""

from interop_tools import postfix_root, redis_server, relay_process, smtp_sink

__all__ = ["postfix_root", "redis_server", "relay_process", "smtp_sink"]
