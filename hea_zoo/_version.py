"""Package version (single source; setup.cfg reads it)."""

__version__ = "0.2.0"
