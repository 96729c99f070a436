"""The README and the docs pages as a user reads them: every `python run.py` command in a fenced
block composes (each combination of a multirun, the preset's own sweep included), every script or
test file a command names exists, and every relative link resolves, to a heading where it names one.
No model loads; the whole file runs in seconds."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest
from conftest import CONF, ROOT, make_cfg
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hintrag.stages import MODES

README = ROOT / "README.md"
# Pages whose commands must run today. Results files (docs/results/) quote the commands of past
# commits as they were run, so only their links are checked.
COMMAND_PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK_PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHELLS = {"bash", "sh", "shell", "console"}
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
REPO_PATH = re.compile(r"^(?:\./)?(?:conf|docs|experiments|hintrag|scripts|tests)/[\w./-]+$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p"}
HYDRA_FLAGS = {"-m", "--multirun", "--resolve"}
MAX_COMBINATIONS = 64


def shell_blocks(text: str) -> list[str]:
    """The fenced blocks marked as shell (```bash): the commands a reader copies."""
    return [body for language, body in FENCE.findall(text) if language.strip() in SHELLS]


def shell_commands(block: str) -> list[list[str]]:
    """Each simple command of a shell block as tokens: continuation lines joined, comments dropped,
    `&&` / `;` / `||` chains split, leading `VAR=value` assignments removed."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as err:
            raise AssertionError(f"not a shell line ({err}): {line}") from err
        current: list[str] = []
        for token in [*tokens, "&&"]:
            if token in ("&&", ";", "||", "|"):
                while current and ENV_ASSIGNMENT.match(current[0]):
                    current.pop(0)
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
    return commands


def run_py_arguments(tokens: list[str]) -> list[str] | None:
    """The arguments of `python run.py ...`, or None for any other command."""
    if len(tokens) >= 2 and tokens[0] in ("python", "python3") and tokens[1] == "run.py":
        return tokens[2:]
    return None


def overrides_of(arguments: list[str]) -> tuple[list[str], bool]:
    """Hydra overrides and whether `-m` was given; an unknown flag fails the test."""
    overrides, multirun, skip = [], False, False
    for arg in arguments:
        if skip:
            skip = False
        elif arg in HYDRA_FLAGS_WITH_VALUE:
            skip = True
        elif arg in HYDRA_FLAGS:
            multirun = multirun or arg in ("-m", "--multirun")
        elif arg.startswith("-"):
            raise AssertionError(f"unknown flag {arg!r} in `python run.py {' '.join(arguments)}`")
        else:
            overrides.append(arg)
    return overrides, multirun


def expand(overrides: list[str]) -> list[list[str]]:
    """Every combination of a sweep (`k=1,3`), as Hydra's basic sweeper makes them."""
    lists = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if override.is_sweep_override():
            lists.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            lists.append([f"{key}={override.get_value_element_as_str()}"])
    return [list(combination) for combination in itertools.product(*lists)]


def preset_sweep(overrides: list[str]) -> list[str]:
    """The sweep a preset declares (`hydra.sweeper.params`), minus the keys the command sets."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    return [f"{key}={value}" for key, value in params.items() if key not in given]


def combinations(arguments: list[str]) -> list[list[str]]:
    overrides, multirun = overrides_of(arguments)
    if not multirun:
        return [overrides]
    runs = []
    for combination in expand(overrides):
        runs += expand(combination + preset_sweep(combination))
    return runs


def collect() -> tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]:
    """(`python run.py` arguments, paths other commands name), each with where it was found."""
    runs, paths = [], []
    for page in COMMAND_PAGES:
        for block in shell_blocks(page.read_text()):
            for tokens in shell_commands(block):
                where = f"{page.relative_to(ROOT)}: {' '.join(tokens)}"
                arguments = run_py_arguments(tokens)
                if arguments is not None:
                    runs.append((where, arguments))
                paths += [(where, t.split("::")[0]) for t in tokens if REPO_PATH.match(t.split("::")[0])]
    return runs, paths


RUNS, PATHS = collect()


def test_the_readme_has_commands_to_check() -> None:
    readme_runs = [where for where, _ in RUNS if where.startswith("README.md")]
    assert len(readme_runs) >= 10, readme_runs
    assert any("experiment=quick_webshop" in where for where in readme_runs)


@pytest.mark.parametrize("where,arguments", RUNS, ids=[where[:90] for where, _ in RUNS])
def test_every_run_command_composes(where: str, arguments: list[str]) -> None:
    overrides: list[str] = arguments
    try:
        runs = combinations(arguments)
        assert 1 <= len(runs) <= MAX_COMBINATIONS, f"{len(runs)} combinations"
        for overrides in runs:
            cfg = make_cfg(*overrides)
            OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
            assert cfg.mode in MODES, f"unknown mode {cfg.mode!r}"
    except Exception as err:
        raise AssertionError(f"{where}\n  does not compose with {overrides}:\n  {err}") from err


@pytest.mark.parametrize("where,path", PATHS, ids=[f"{path} ({where[:50]})" for where, path in PATHS])
def test_every_named_file_exists(where: str, path: str) -> None:
    assert (ROOT / path).exists(), f"{where}: {path} does not exist"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(page: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", page.read_text()))
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


LINKS = [(page, target) for page in LINK_PAGES for target in dict.fromkeys(links(page))]


@pytest.mark.parametrize("page,target", LINKS, ids=[f"{p.relative_to(ROOT)} -> {t}" for p, t in LINKS])
def test_every_relative_link_resolves(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    assert file.exists(), f"{shown}: {target} -> {file} does not exist"
    if anchor and file.suffix == ".md":
        assert anchor in anchors(file), f"{shown}: no heading for #{anchor} in {file.name}"


def test_the_checks_catch_a_broken_command_and_a_broken_link(tmp_path: Path) -> None:
    """The checks above fail on what they are meant to catch."""
    assert combinations(["-m", "k=1,3", "seed=0,1"]) == [
        ["k=1", "seed=0"], ["k=1", "seed=1"], ["k=3", "seed=0"], ["k=3", "seed=1"]]
    assert len(combinations(["-m", "experiment=k_sweep"])) == 4  # the preset's own k=1,3,6,9
    for arguments in (["-m", "k=1,3", "nosuchkey=1"], ["experiment=nosuchpreset"], ["mode=nosuchmode"],
                      ["--nosuchflag"]):
        with pytest.raises(AssertionError):
            test_every_run_command_composes("a broken command", arguments)
    page = tmp_path / "page.md"
    page.write_text("# A title\n\nSee [here](#a-title), [`code`](page.md), [there](missing.md), [no](#nowhere).\n"
                    "```bash\n# not a heading\n```\n")
    assert links(page) == ["#a-title", "page.md", "missing.md", "#nowhere"]
    assert anchors(page) == {"a-title"}
    for target in ("#a-title", "page.md"):
        test_every_relative_link_resolves(page, target)
    for target in ("missing.md", "#nowhere"):
        with pytest.raises(AssertionError):
            test_every_relative_link_resolves(page, target)
