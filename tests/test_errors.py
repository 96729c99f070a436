"""Bad input fails fast with one message naming the fix."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg

from hintrag.errors import ConfigError
from hintrag.stages import run_mode


@pytest.mark.parametrize("data_dir", ["null", "/no/such/dir"])
def test_missing_data_names_the_setting_and_download(tmp_path: Path, data_dir: str) -> None:
    with pytest.raises(ConfigError, match=r"env.data_dir.*alfworld-download"):
        run_mode(make_cfg(f"env.data_dir={data_dir}", f"store.root={tmp_path}"))


@pytest.mark.parametrize("override,match", [("n_episodes=0", "n_episodes"), ("max_steps=0", "max_steps"),
                                            ("batch_size=-1", "batch_size"), ("split=test", "split")])
def test_bad_numbers_and_splits(tmp_path: Path, alfworld_data: Path, override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_mode(make_cfg(override, f"env.data_dir={alfworld_data}", f"store.root={tmp_path}"))


BAD_INPUT = [  # the list: overrides -> the message, which names the fix
    (["mode=dance"], r"unknown mode 'dance'; valid modes: pipeline, demos, rollout, imitate, extract, teacher, bank, train, eval, "
                     r"reference, report \(mode=\.\.\.\)"),
    (["k=0", "mode=teacher"], r"teacher.k=0 must be a whole number >= 1"),
    (["lora_rank=0", "mode=train"], r"lora_rank=0 must be a whole number >= 1"),
    (["lora_rank=0"], r"lora_rank=0 must be"),  # the pipeline stops before Stage A, not at Stage D
    (["pipeline.regimes=[distill,rl]"], r"pipeline.regimes: 'rl' is not one of distill, sft"),
    (["env.data_dir=/no/such/dir", "mode=rollout"], r"env.data_dir=/no/such/dir .*alfworld-download"),
    (["model.path=/no/model", "model.gguf_file=null", "mode=rollout"], r"model folder '/no/model' does not exist"),
    (["model.path=/no/model", "model.gguf_file=null"], r"model folder '/no/model' does not exist"),
    (["train.quantization=4bit", "mode=train"], r"4bit \(QLoRA\) needs a CUDA GPU; on CPU use train.quantization=auto"),
    (["backend.device=cuda", "mode=rollout"], r"no CUDA GPU is visible; use backend.device=cpu"),
    (["mode=extract"], r"no trajectories of Stage A: base agent on train at .*run `python run.py mode=rollout split=train"),
    (["mode=teacher"], r"no hint bank of Stage B: hints from the failures on train at .*run `python run.py mode=extract"),
    (["mode=train"], r"no trajectories of Stage C: RAG teacher \(k=3\) on train at .*run `python run.py mode=teacher split=train"),
    (["mode=train", "train.regime=sft"], r"no trajectories of Stage A: base agent on train at .*mode=rollout split=train`"),
    (["mode=eval"], r"no trained adapter of Stage D: distill student from train at .*run `python run.py mode=train`"),
    (["train.loss_on=prompt", "mode=train"],
     r"train.loss_on: 'prompt' is not one of assistant, all \(train.loss_on=\.\.\.\)"),
    (["backend.quantization=8bit"], r"backend.quantization='8bit'; choose null or 4bit"),
    (["backend.quantization=4bit", "mode=rollout"],
     r"backend.quantization=4bit loads bitsandbytes 4-bit weights, which needs a CUDA GPU; on this machine set "
     r"backend.quantization=null"),
    # the separate re-ranker (retrieval.model): a retriever that asks no model, a name for a model config, missing
    # weights (checked before the agent's load), a key the agent's engine does not have, 4 bits without a GPU
    (["retrieval=tfidf", "+model@retrieval.model=7b", "mode=teacher"],
     r"retrieval.model is the model of the llm_rerank re-ranker, but retrieval=tfidf asks no model; "
     r"set retrieval.model=null, or retrieval=llm_rerank"),
    (["retrieval.model=qwen2.5-7b"], r"retrieval.model='qwen2.5-7b' is not a model config; pick one of conf/model/ "
                                     r"with \+model@retrieval.model=<name> \(e.g. 7b\)"),
    (["+model@retrieval.model=7b", "retrieval.model.path=/no/reranker"],
     r"model folder '/no/reranker' does not exist; set retrieval.model.path"),
    (["+model@retrieval.model=7b", "+retrieval.backend.gpu_memory_utilization=0.2"],
     r"retrieval.backend.gpu_memory_utilization: the re-ranker's second engine is of the agent's kind, backend=hf"),
    (["+model@retrieval.model=7b", "+retrieval.backend.quantization=4bit"],
     r"retrieval.backend.quantization=4bit loads bitsandbytes 4-bit weights, which needs a CUDA GPU"),
]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="GPU-only options are valid on a GPU")
@pytest.mark.parametrize("overrides,message", BAD_INPUT, ids=[" ".join(o) for o, _ in BAD_INPUT])
def test_bad_input_is_one_clear_error_within_seconds_before_any_model_loads(
    tmp_path: Path, alfworld_data: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str], message: str
) -> None:
    import transformers

    def no_model(*args, **kwargs):
        pytest.fail("a model was loaded before the input was checked")

    monkeypatch.setattr(transformers.PreTrainedModel, "from_pretrained", classmethod(no_model))
    cfg = make_cfg(f"env.data_dir={alfworld_data}", f"store.root={tmp_path}", *overrides)
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=message):
        run_mode(cfg)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("group", ["env", "agent", "model", "backend", "retrieval", "extractor"])
def test_unknown_group_option_lists_the_choices(group: str) -> None:
    proc = subprocess.run([sys.executable, "run.py", f"{group}=nope"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"Could not find '{group}/nope'" in proc.stderr and f"Available options in '{group}'" in proc.stderr


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "run.py", "mode=dance", f"store.root={tmp_path}"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: unknown mode 'dance'")
    assert "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 30


def test_vllm_without_vllm_fails_at_once_with_the_install_line(tmp_path: Path, alfworld_data: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r'backend=vllm needs vLLM.*pip install -e "\.\[gpu\]"'):
        run_mode(make_cfg("backend=vllm", "mode=rollout", f"env.data_dir={alfworld_data}", f"store.root={tmp_path}"))
    assert time.perf_counter() - started < 5


def test_the_command_a_missing_warm_start_names_trains_that_warm_start(tmp_path: Path, alfworld_data: Path) -> None:
    """The named command must parse back to the run that was looked for (`None` would reach Hydra as a string)."""
    import re

    from hintrag.store import run_key

    settings = [f"env.data_dir={alfworld_data}", f"store.root={tmp_path}", "warm_start.epochs=2", "warm_start.lr=1e-3"]
    with pytest.raises(ConfigError) as err:
        run_mode(make_cfg(*settings, "model.warm_start=bc", "mode=rollout"))
    found = re.search(r"at (\S+)/adapter; run `python run.py ([^`]*)` with the same settings", str(err.value))
    assert found, err.value
    assert "model.warm_start=null" in found.group(2).split()
    named = make_cfg(*settings, *found.group(2).split())
    assert named.model.warm_start is None and named.train.regime == "bc"
    assert run_key("train", named) == Path(found.group(1)).name
