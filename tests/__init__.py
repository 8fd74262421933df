"""The tests, mirroring the package: data/, models/, serving/, evaluation/, cli/; the
top-level modules, the docs and the benchmarks here; shared code in support/."""
