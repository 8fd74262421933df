"""The errors of the design engine, by the `hea-zoo design` exit code they map to."""

from __future__ import annotations

__all__ = ["DesignError", "TargetError", "InfeasibleError", "ModelFileError"]


class DesignError(ValueError):
    """A design request that cannot be served (the message says why)."""


class TargetError(DesignError):
    """A bad target, tolerance or set of constraints (the `hea-zoo` exit code 5)."""


class InfeasibleError(TargetError):
    """No candidate satisfies the constraints."""


class ModelFileError(DesignError):
    """An exported model file that cannot be used (the `hea-zoo` exit code 4)."""
