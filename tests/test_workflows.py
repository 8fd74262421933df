"""hea_zoo.workflows: one meaning of `quick`, checks before any training, the layers it chains."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hea_zoo
from hea_zoo import workflows
from hea_zoo.errors import UsageError


def test_quick_has_one_meaning_and_explicit_settings_win():
    assert workflows.run_settings(None, None, 2000, quick=False) == (None, None, 2000)
    quick = workflows.QUICK
    assert workflows.run_settings(None, None, 2000, quick=True) == (
        quick.epochs, quick.surrogate_epochs, quick.n_per_condition
    )
    assert workflows.run_settings(7, 3, 20, quick=True) == (7, 3, 20)  # given values win, fewer designs kept


def test_export_all_refuses_bad_requests_before_any_training(tmp_path):
    with pytest.raises(UsageError) as caught:
        workflows.export_all(tmp_path, models=["gan"])
    assert caught.value.field == "models" and "Valid names" in caught.value.message
    with pytest.raises(UsageError, match="^version: must be a positive integer"):
        workflows.export_all(tmp_path, version=0)
    (tmp_path / "cvae" / "2").mkdir(parents=True)
    with pytest.raises(UsageError) as caught:
        workflows.export_all(tmp_path, models=["cvae"], version=2)
    assert caught.value.field == "overwrite" and "already exists" in caught.value.message
    assert "--" not in caught.value.message  # library words, not flags
    with pytest.raises(UsageError) as caught:
        workflows.export_all(tmp_path, models=["cvae"], version=1, overwrite=True)
    assert caught.value.field == "version" and "older than the exported version 2" in caught.value.message
    assert not (tmp_path / "MANIFEST.json").exists()


def _hea_zoo_imports(path: Path, module: str) -> set[str]:
    """Every hea_zoo module that `path` (module `module`) imports, at any depth of its code
    (function-level imports too), relative imports resolved."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "hea_zoo" or name.startswith("hea_zoo.")}


def test_serving_does_not_import_evaluation():
    """Read from the source (every import statement, also those inside functions), so a lazy
    import that a run would not reach is caught too."""
    package = Path(hea_zoo.__file__).parent
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    todo = [name for name in modules if name.startswith("hea_zoo.serving")]
    assert "hea_zoo.serving.export" in todo and "hea_zoo.serving.design" in todo
    reached, parents = set(), {}
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        for imported in _hea_zoo_imports(modules[name], name):
            target = imported if imported in modules else imported.rpartition(".")[0]  # `from m import f`
            if target in modules and target not in reached:
                parents.setdefault(target, name)
                todo.append(target)
    evaluation = sorted(name for name in reached if name.startswith("hea_zoo.evaluation"))
    chains = []
    for name in evaluation:
        chain = [name]
        while chain[-1] in parents:
            chain.append(parents[chain[-1]])
        chains.append(" <- ".join(chain))
    assert not evaluation, chains
    assert "hea_zoo.models" in reached  # the walk follows imports (serving does use the models)
