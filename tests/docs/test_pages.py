"""README.md and docs/ against the repository: length, links, named files and tests, commands, params."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

README = ROOT / "README.md"
PAGES = sorted([README, ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
IDS = [str(p.relative_to(ROOT)) for p in PAGES]

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_SPAN = re.compile(r"`([^`\n]+)`")
_REPO_PATH = re.compile(r"^(?:\.ci|bench|dags|docs|include|plugins|scripts|tests)/[\w./-]*(?:::\w+)?$")


def _prose(text: str) -> str:
    return _FENCE.sub("", text)


def _code(text: str) -> list[str]:
    """Lines of fenced code blocks, then inline code spans of the prose."""
    blocks = [line for block in _FENCE.findall(text) for line in block.splitlines()]
    return blocks + _SPAN.findall(_prose(text))


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", _prose(page.read_text()), re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def test_the_readme_is_at_most_200_lines() -> None:
    assert len(README.read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    for link in _LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z]+:", link):
            continue  # http(s), mailto: not ours to check
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_relative_to(ROOT), f"{link} leaves the repository"
        assert target.exists(), f"{link}: {target} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{link}: no heading #{anchor} in {target.name}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_page_cites_a_file_outside_the_repository(page: Path) -> None:
    text = page.read_text()
    for outside in ("SPEC.md", "../shared", "/work/"):
        assert outside not in text


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_repository_path_and_test_named_exists(page: Path) -> None:
    for span in _SPAN.findall(page.read_text()):
        token = span.split()[0] if span.split() else ""
        if not _REPO_PATH.match(token):
            continue
        path, _, test = token.partition("::")
        assert (ROOT / path).exists(), f"{page.name} names {path}, which does not exist"
        if test:
            assert re.search(rf"^(async )?def {test}\(", (ROOT / path).read_text(), re.MULTILINE), (
                f"{page.name} names {token}, which does not exist"
            )


def _commands(program: str) -> list[tuple[Path, list[str]]]:
    """Each `program …` command in the pages' code, as arguments (pipes and `&&` split; the bare name
    is a mention, not a command)."""
    found = []
    for page in PAGES:
        for line in _code(page.read_text()):
            for part in re.split(r"\|\||&&|[|;]", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue  # half a quoted string in an inline span
                while words and re.match(r"^\w+=", words[0]):
                    words = words[1:]  # VAR=value before the command
                if len(words) > 1 and words[0] == program:
                    found.append((page, words[1:]))
    return found


def test_every_bugzilla_push_command_in_the_docs_parses() -> None:
    from bugzilla_push.cli import _parser

    commands = _commands("bugzilla-push")
    assert len(commands) > 10
    for page, args in commands:
        try:
            _parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{page.name}: bugzilla-push {' '.join(args)} is not a valid command")


def test_every_make_target_in_the_docs_exists() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    commands = _commands("make")
    assert {"run", "test"} <= {args[0] for _, args in commands}
    for page, args in commands:
        assert args[0] in targets, f"{page.name}: make {' '.join(args)}"


def test_the_dag_page_lists_every_param() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["bugzilla_push"]
    section = (ROOT / "docs" / "dag.md").read_text().split("## Params", 1)[1].split("\n## ", 1)[0]
    documented = {
        name for row in re.findall(r"^\| (`.+?) \|", section, re.MULTILINE) for name in _SPAN.findall(row)
    }
    assert documented == set(dag.params)
