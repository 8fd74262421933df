"""The front door and the docs: the README's commands are what CI runs, every link resolves,
every document is indexed."""

from __future__ import annotations

import re

import pytest

from tests.support import ROOT

_LINK = re.compile(r"\[[^\]]*\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_the_readme_opens_with_two_commands_and_ci_runs_the_second_exactly():
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install -e . && hea-zoo design")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in [line.strip() for line in ci], "'.ci/run' must call the README's test command"


def test_the_readme_stays_a_front_door():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


@pytest.mark.parametrize("doc", [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))  # fmt: skip
def test_every_relative_link_resolves(doc):
    broken = []
    for target in _LINK.findall(doc.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (doc.parent / target).exists():
            broken.append(target)
    assert broken == [], f"{doc.relative_to(ROOT)} links to missing files: {broken}"


def test_every_document_is_in_the_index():
    index = (ROOT / "docs" / "README.md").read_text()
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md" and f"({p.name})" not in index]
    assert missing == []


_TEST_PATH = re.compile(r"\btests/[\w/]+\.(?:py|mjs)\b")


def test_every_test_file_named_in_the_docs_and_examples_exists():
    sources = [ROOT / "README.md", ROOT / ".ci" / "run", *sorted((ROOT / "docs").glob("*.md")),
               *sorted((ROOT / "benchmarks").rglob("*.md")), *sorted((ROOT / "examples").glob("*.py"))]  # fmt: skip
    named = {(s.relative_to(ROOT).as_posix(), m) for s in sources for m in _TEST_PATH.findall(s.read_text())}
    assert len(named) >= 10  # the docs do name the tests that check them
    missing = sorted((source, path) for source, path in named if not (ROOT / path).is_file())
    assert missing == [], f"names of moved or removed test files: {missing}"
