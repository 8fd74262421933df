"""Train (or load) the default models and write the deployable artifacts in exported/.

Same as ``hea-zoo export --all``, with the same options. For each generator (cae, cvae,
wcgan, flow) and the surrogate it writes ``exported/<name>/<version>/`` (SavedModel in
TensorFlow Serving's layout), ``exported/<name>.onnx`` (and the flow's
``exported/flow_log_prob.onnx``) and ``exported/keras/<name>.keras``,
then ``exported/MANIFEST.json`` (versions, metrics, sha256 and size of every file, the
training data's fingerprint, package versions):

    python examples/export_all.py                                    # train -> exported/ (next version)
    python examples/export_all.py --from-dir exported/keras --version 1 --overwrite   # re-export in place
    python examples/export_all.py --out /tmp/exp --quick             # smoke test

A new export gets the next version number (TensorFlow Serving does not reload a version it
serves); replacing an existing version needs ``--version N --overwrite`` and is a
crash-safe swap (docs/SERVING.md).
"""

import sys

from hea_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", "--all", *sys.argv[1:]]))
