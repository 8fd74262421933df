"""TensorFlow, imported with its C++ start-up lines kept off the terminal.

Importing TensorFlow prints lines a user cannot act on (oneDNN notes, "Could not find cuda
drivers", a failed ``cuInit`` on machines without a GPU) straight to file descriptor 2,
before ``TF_CPP_MIN_LOG_LEVEL`` is consulted. hea_zoo imports TensorFlow through this
module, which holds those lines back while TensorFlow loads and probes its devices, and
replays them if the import fails, so a real problem is still shown. Python's absl logger
(used by TensorFlow's saving code) is set to errors only.

Nothing is changed if TensorFlow was imported before hea_zoo (the user's own settings
win), or with ``HEA_ZOO_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
import tempfile


def _import_quietly() -> None:
    if "tensorflow" in sys.modules or os.environ.get("HEA_ZOO_DEBUG"):
        import tensorflow  # noqa: F401

        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to hide
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # device probing logs here, not later
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            sys.stderr.flush()
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass


_import_quietly()
