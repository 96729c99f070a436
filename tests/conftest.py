"""Shared fixtures: the real config tree, the shared ALFWorld data, and a tiny random model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from hintrag.hints.hintbank import Bank, Candidate, deduplicate

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
ALFWORLD_DATA = Path(os.environ.get("ALFWORLD_DATA", ROOT.parent / "shared" / "data" / "alfworld"))
WEBSHOP_DATA = Path(os.environ.get("WEBSHOP_DATA", ROOT.parent / "shared" / "data" / "webshop"))


def make_cfg(*overrides: str) -> DictConfig:
    """Compose the project's real config with overrides, as `python run.py ...` would."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.fixture(scope="session")
def alfworld_data() -> Path:
    if not (ALFWORLD_DATA / "json_2.1.1").is_dir():
        pytest.fail(f"ALFWorld data not found at {ALFWORLD_DATA}; set ALFWORLD_DATA (CI uses ../shared/data/alfworld)")
    return ALFWORLD_DATA


@pytest.fixture(scope="session")
def webshop_data() -> Path:
    if not (WEBSHOP_DATA / "reference").is_dir():
        pytest.fail(f"WebShop data not found at {WEBSHOP_DATA}; set WEBSHOP_DATA (CI uses ../shared/data/webshop)")
    return WEBSHOP_DATA


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """The embedded SmolLM2 converted once to a transformers folder (the backend's own cache)."""
    from hintrag.llm.models import local_folder

    cfg = make_cfg()
    return Path(local_folder(cfg.model, cfg.backend.cache_dir))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, embedded_model_dir: Path) -> Path:
    """A 2-layer random Llama with SmolLM2's real tokenizer and chat template: fast, not smart."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_overrides(tiny_model_dir: Path, alfworld_data: Path, store: Path) -> list[str]:
    return [
        f"model.path={tiny_model_dir}", "model.gguf_file=null", "model.name=tiny-random",
        f"env.data_dir={alfworld_data}", f"store.root={store}", "agent.max_new_tokens=8",
    ]


def write_bank(folder: Path, categories: list[str]) -> Bank:
    """Stand in for a Stage B that produced useful hints (the tiny model writes none)."""
    texts = ["Open {receptacle} before taking from it.", "Check your inventory before moving {object}.",
             "Go to {receptacle} only once.", "Use the exact object number you saw."]
    bank = Bank(deduplicate([Candidate(t, "ordering", c, "train/x") for c in categories for t in texts], 0.85, "test"))
    bank.save(folder / "bank.json")
    return bank
