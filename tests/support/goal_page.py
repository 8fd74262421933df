"""The goal requests the design page is driven with (tests/serving/test_web.py): each as
`DesignRequest` takes it, and as the page's form fields."""

from __future__ import annotations

from tests.support import parity

#: (name, request as DesignRequest takes it, n, candidates)
CASES = [
    ("thresholds", {"goals": ["shear_modulus>=60", "fracture_toughness>=45"]}, 10, 3000),
    ("range", {"goals": ["shear_modulus=50:70", "fracture_toughness<=40"], "select": "closest"}, 8, 2000),
    ("descriptor", {"goals": ["fracture_toughness>=40", "density<=8.5"]}, 8, 3000),
    ("maximize", {"goals": ["shear_modulus>=60"], "objectives": [("fracture_toughness", "max")]}, 8, 3000),
    ("pareto", {"goals": ["vec=4:5"], "objectives": [("shear_modulus", "max"), ("fracture_toughness", "max")],
                "min_probability": 0.8}, 8, 3000),
]
BAD = [
    ("unknown name", {"goals": ["hardness>=3"]}),
    ("unreachable density", {"goals": ["density<=1"]}),
    ("empty range", {"goals": ["vec=5:4"]}),
    ("far outside", {"goals": ["shear_modulus>=600"]}),
    ("objective twice", {"goals": ["vec<=5"], "objectives": [("tm", "max"), ("tm", "min")]}),
    ("min probability", {"goals": ["vec<=5"], "min_probability": 1.5}),
]


def goal_fields(request: dict, n: int, seed: int, candidates: int) -> dict:
    goals = list(request.get("goals", ()))
    fields = {"aim": "goals", "n": n, "seed": seed, "candidates": candidates, "select": request.get("select", "diverse"),
              "tolerance": 0.05, "allowed": "", "excluded": "", "max-elements": "", "bounds": "", "min-fraction": "",
              "min-probability": request.get("min_probability", 0.8)}  # fmt: skip
    for i in range(max(3, len(goals))):
        fields[f"goal-{i}"] = goals[i] if i < len(goals) else ""
    objectives = list(request.get("objectives", ()))
    for i in range(2):
        name, sense = objectives[i] if i < len(objectives) else ("vec", "")
        fields[f"objective-{i}-name"] = name
        fields[f"objective-{i}-sense"] = sense
    return fields


def goal_steps() -> list[dict]:
    """The page's goal steps: every case with its seed (from `parity.rng`), then the bad requests."""
    steps = []
    for name, request, n, candidates in CASES:
        seed = int(parity.rng("goal page", name).integers(0, 2**32))
        steps.append({"name": name, "model": "cae", "fields": goal_fields(request, n, seed, candidates)})
    for name, request in BAD:
        steps.append({"name": name, "model": "cae", "fields": goal_fields(request, 5, 0, 500)})
    return steps
