"""The paper presets against docs/fidelity.md: every config value its "Preset values" table lists
is what each preset composes to (at every point of its sweep), and every key a preset sets is in
that table, so the presets and the page cannot drift apart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import CONF, ROOT, make_cfg
from omegaconf import OmegaConf

from hintrag.stagespec import config_leaves

PAGE = ROOT / "docs" / "fidelity.md"
PRESETS = ("paper_alfworld", "paper_webshop")
ABSENT = "-"  # the table's mark for a key the env does not have
ROW = re.compile(r"^\| `([\w.]+)` \| (`[^`]*`|-) \| (`[^`]*`|-) \| [^|]+ \|$")
# What a preset file sets that is not a protocol setting: how the grid runs, where it logs, what it reports.
NOT_PROTOCOL = ("defaults", "hydra", "mode", "logger", "cluster", "report", "pipeline.max_steps", "pipeline.regimes")
ALIASES = {"k": "teacher.k", "lora_rank": "train.lora_rank"}  # top-level sweep aliases of hashed keys
# The preset's group choices that are protocol settings, checked through one key (env and model are the grid).
GROUPS = {"env": None, "model": None, "backend": "backend.name", "extractor": "extractor.name", "logger": None,
          "model@retrieval.model": "retrieval.model.path"}


def table() -> dict[str, dict[str, str]]:
    """The "Preset values" table: key -> preset -> cell (a YAML value in backticks, or `-`)."""
    text = PAGE.read_text()
    section = text.split("## Preset values", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert all(rows), "a row of the Preset values table does not read as | `key` | `value` | `value` | row |"
    out = {m.group(1): dict(zip(PRESETS, (m.group(2), m.group(3)))) for m in rows if m}
    assert len(out) == len(rows), "a key is listed twice in the Preset values table"
    return out


def parsed(cell: str) -> Any:
    """A cell's value as the config would hold it (OmegaConf's YAML: 2e-4 is a float)."""
    return OmegaConf.create(f"value: {cell.strip('`')}").value


def sweep(preset: str) -> list[list[str]]:
    """Every point of the preset's own sweep, as overrides."""
    params = OmegaConf.load(CONF / "experiment" / f"{preset}.yaml").hydra.sweeper.params
    names = list(params)
    points: list[list[str]] = [[]]
    for name in names:
        points = [p + [f"{name}={v}"] for p in points for v in str(params[name]).split(",")]
    return points


def set_by(preset: str) -> set[str]:
    """The config keys the preset file itself sets: its leaves (aliases resolved) and its group choices."""
    raw = OmegaConf.load(CONF / "experiment" / f"{preset}.yaml")
    keys = {ALIASES.get(k, k) for k in config_leaves(OmegaConf.create({k: v for k, v in raw.items() if k != "hydra"}))}
    for entry in raw.defaults:
        group = next(iter(entry)).removeprefix("override ").removeprefix("/")
        if GROUPS.get(group):
            keys.add(GROUPS[group])
    return {k for k in keys if not any(k == p or k.startswith(p + ".") for p in NOT_PROTOCOL)}


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_composes_to_the_values_the_page_lists(preset: str) -> None:
    rows = table()
    for point in sweep(preset):
        cfg = make_cfg(f"experiment={preset}", *point, "env.data_dir=/d")
        wrong = {}
        for key, cells in rows.items():
            held = OmegaConf.select(cfg, key, default=ABSENT)
            expected = ABSENT if cells[preset] == ABSENT else parsed(cells[preset])
            if held != expected or isinstance(held, bool) != isinstance(expected, bool):  # 1 is not true
                wrong[key] = (held, expected)
        assert not wrong, f"{preset} {point}: composed value != docs/fidelity.md (held, page): {wrong}"


@pytest.mark.parametrize("preset", PRESETS)
def test_every_key_a_preset_sets_is_on_the_page(preset: str) -> None:
    missing = set_by(preset) - set(table())
    assert not missing, f"{preset} sets {sorted(missing)}, which docs/fidelity.md's Preset values table does not list"


def test_the_table_reads_and_a_disagreement_fails() -> None:
    """The parser sees every row, and a value changed on the command line is caught."""
    rows = table()
    assert len(rows) >= 50 and rows["env.results_shown"] == {"paper_alfworld": "-", "paper_webshop": "`3`"}
    assert parsed("`2e-4`") == 2e-4 and parsed("`null`") is None and parsed("`Invalid action!`") == "Invalid action!"
    cfg = make_cfg("experiment=paper_webshop", "env.results_shown=10")
    assert OmegaConf.select(cfg, "env.results_shown") != parsed(rows["env.results_shown"]["paper_webshop"])
