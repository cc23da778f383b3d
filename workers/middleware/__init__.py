"""Dramatiq middleware of koppel: one class per module."""

from workers.middleware.log_context import LogContext

__all__ = ["LogContext"]
