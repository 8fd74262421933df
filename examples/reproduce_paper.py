"""Reproduce the study's evaluation on the bundled data and write a report folder.

Trains cAE, cVAE, WcGAN and the surrogate, runs the study's protocol (line, grid,
novelty, samples, latent interpolation), judges every design by the surrogate and by the
physics oracle, and writes ``report.md``, ``metrics.json`` and the figures. Same as
``hea-zoo reproduce``; the options are those of `hea_zoo.reproduce`:

    python examples/reproduce_paper.py                    # full run -> report/ (prints the time)
    python examples/reproduce_paper.py --quick            # smoke run
    python examples/reproduce_paper.py --output docs/reference_report
"""

from hea_zoo.reproduce import main

if __name__ == "__main__":
    main()
