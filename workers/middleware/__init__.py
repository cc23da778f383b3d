"""Dramatiq middleware of koppel: one class per module."""

from workers.middleware.dead_letters import DeadLetters
from workers.middleware.log_context import LogContext
from workers.middleware.metrics import Metrics

__all__ = ["DeadLetters", "LogContext", "Metrics"]
