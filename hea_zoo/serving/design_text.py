"""Moved to `hea_zoo.serving.design.text` (this name stays for code that imports it)."""

import sys

from hea_zoo.serving.design import text as _text

sys.modules[__name__] = _text
