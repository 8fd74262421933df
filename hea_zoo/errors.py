"""The errors hea_zoo raises for requests it cannot serve, in library terms.

Every error names what is wrong in the words of the Python API: the parameter, the field
of a request (``bounds['W']``) or the column of a table, never a command-line flag. It
carries that name as ``field`` (None when no single field is at fault) and the bare
message as ``message``; ``str(err)`` is ``"<field>: <message>"``. The command line maps
fields to its own flags (`hea_zoo.cli`), so a user of either sees their own words.

The classes follow the exit codes of the ``hea-zoo`` command:

=================  ====  ==================================================================
class              exit  what it means
=================  ====  ==================================================================
`UsageError`       2     a parameter outside its domain (n, candidates, select, out, ...)
`DataError`        3     a table, column, composition or property that cannot be used
`ModelFileError`   4     a file that is not a usable hea_zoo model
`TargetError`      5     a target, goal, tolerance or set of constraints that cannot hold
=================  ====  ==================================================================

All are `ValueError`s, so existing ``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = [
    "HeaZooError",
    "UsageError",
    "DataError",
    "ModelFileError",
    "MetadataError",
    "TargetError",
    "InfeasibleError",
    "DesignError",
]


class HeaZooError(ValueError):
    """A request hea_zoo cannot serve.

    Args:
        message: what is wrong and, where it helps, what to do (no field name in front).
        field: the parameter, request field or column at fault (``"exclude"``,
            ``"bounds['W']"``, ``"out"``), or None.
    """

    exit_code = 2

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message, field)
        self.message = str(message)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def __reduce__(self):  # picklable across processes with its field
        return (type(self), (self.message, self.field))


class UsageError(HeaZooError):
    """A parameter outside its domain (exit code 2)."""

    exit_code = 2


DesignError = UsageError
"""The name the design engine has used for its usage errors (0.2); the same class."""


class DataError(HeaZooError):
    """A table, column, composition or property value that cannot be used (exit code 3).

    Args:
        message: what is wrong (no field or row in front).
        field: the parameter or column at fault, or None.
        row: the data row at fault (0-based, as the table was read; an index label for a
            pandas Series), or None.
        line: the line of the file where that row starts (1-based), when known.
        where: the row in words, put in front of the message by ``str(err)``
            (``"data row 7 (0-based; line 9 of alloys.csv)"``); default ``"row <row>"``.

    ``str(err)`` is ``"<field>: <where>: <message>"`` (parts that are None left out).
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        row: object | None = None,
        line: int | None = None,
        where: str | None = None,
    ):
        super().__init__(message, field)
        self.row = row
        self.line = line
        self.where = where if where is not None or row is None else f"row {row}"

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{self.field}: {text}" if self.field else text

    def __reduce__(self):
        return (type(self), (self.message, self.field), {"row": self.row, "line": self.line, "where": self.where})


class ModelFileError(HeaZooError):
    """A file that is not a usable hea_zoo model (exit code 4)."""

    exit_code = 4


class MetadataError(ModelFileError):
    """An exported model's metadata is missing a key or does not parse (exit code 4)."""


class TargetError(HeaZooError):
    """A target, goal, tolerance or set of constraints that cannot hold (exit code 5)."""

    exit_code = 5


class InfeasibleError(TargetError):
    """No candidate satisfies the constraints (exit code 5)."""
