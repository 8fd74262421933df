"""Reproduce the study's evaluation on the bundled data and write a report folder.

Trains cAE, cVAE, WcGAN and the surrogate, runs the study's protocol (line, grid,
novelty, samples, latent interpolation), judges every design by the surrogate and by the
physics oracle, and writes ``report.md``, ``metrics.json`` and the figures. Same as
``hea-zoo reproduce``, with the same options:

    python examples/reproduce_paper.py                    # full run -> report/ (prints the time)
    python examples/reproduce_paper.py --quick            # smoke run
    python examples/reproduce_paper.py --out docs/reference_report
"""

import sys

from hea_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", *sys.argv[1:]]))
