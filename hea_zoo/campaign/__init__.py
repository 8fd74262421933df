"""Closed-loop design campaigns: `propose` the next batch to measure from the measured
table alone (docs/CAMPAIGNS.md).

- `hea_zoo.campaign.next_batch`: `propose`, `Proposal`;
- `hea_zoo.campaign.learner`: the campaign learner (a cross-conformal surrogate ensemble
  trained in one compiled step, its trace reused across calls);
- `hea_zoo.campaign.acquisition`: probability of the goals, expected improvement,
  2-D hypervolume improvement, the spread batch selection;
- `hea_zoo.campaign.sources`: random, mutation, prior and generator candidates;
- `hea_zoo.campaign.lab`: the bundled oracle as a simulated lab (`measure`).
"""

from hea_zoo.campaign.next_batch import DEFAULT_CANDIDATES, DEFAULT_SOURCES, MIN_DISTANCE, Proposal, propose

__all__ = ["DEFAULT_CANDIDATES", "DEFAULT_SOURCES", "MIN_DISTANCE", "Proposal", "propose"]
