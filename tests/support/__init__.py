"""Code shared by the tests (imported as ``from tests.support.<module> import ...``).

`ROOT` is the repository root: every test finds files of the repository from it, wherever
the test file sits under tests/.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
