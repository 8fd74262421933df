"""The errors of the design engine: the library's own (`hea_zoo.errors`), named here too."""

from __future__ import annotations

from hea_zoo.errors import DesignError, InfeasibleError, ModelFileError, TargetError, UsageError

__all__ = ["DesignError", "UsageError", "TargetError", "InfeasibleError", "ModelFileError"]
