"""Run identity: every config leaf is hashed by some stage or excluded with a reason (the census),
the keys that change results change the folder and the ones that do not leave it alone, sweeps
share their upstream runs, and an old store is refused with what to delete."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import CONF, make_cfg

from hintrag import stagegraph, stagespec, store
from hintrag.errors import ConfigError
from hintrag.stagespec import config_leaves, excluded, hashed, is_excluded


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


COMBOS = list(itertools.product(options("env"), options("agent"), options("model"), options("backend")))
EXTRA = [["extractor=gpt-4o"], ["logger=wandb"], ["retrieval=bm25"], ["generation=sample"], ["eval.student=false"],
         ["hydra/launcher=slurm"], ["+model@retrieval.model=7b", "+retrieval.backend.threads=2"]]


def census(cfg) -> tuple[set[str], dict[str, set[str]]]:
    """Leaves no stage hashes nor excludes, and each stage's excluded leaves."""
    specs = stagegraph.stages().values()
    covered: set[str] = set()
    per_stage: dict[str, set[str]] = {}
    leaves = config_leaves(cfg)
    for spec in specs:
        covered |= set(hashed(spec, cfg))
        per_stage[spec.name] = {leaf for leaf in leaves if is_excluded(leaf, excluded(spec, cfg))}
    covered |= {leaf for leaf in leaves if is_excluded(leaf, store.NOT_RESULT)}
    covered |= set().union(*per_stage.values())
    return set(leaves) - covered, per_stage


@pytest.mark.parametrize("env,agent,model,backend", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_config_leaf_is_hashed_or_excluded_with_a_reason(env: str, agent: str, model: str, backend: str) -> None:
    for extra in [[], *EXTRA] if model == "smollm2-135m" else [[]]:  # the other groups vary with any model
        cfg = make_cfg(f"env={env}", f"agent={agent}", f"model={model}", f"backend={backend}", *extra)
        unaccounted, _ = census(cfg)
        assert not unaccounted, f"{extra}: keys in no run key and on no exclude list: {sorted(unaccounted)}"


def test_exclude_lists_name_real_keys_and_say_why() -> None:
    """An exclude entry that matches nothing in any composition is stale; every entry has a reason."""
    sample = COMBOS[:: max(1, len(COMBOS) // 12)] + [("webshop", "act", "7b", "openai")]
    used: set[str] = set()
    declared: set[str] = set()
    for (env, agent, model, backend), extractor in itertools.product(sample, ("local", "gpt-4o")):
        cfg = make_cfg(f"env={env}", f"agent={agent}", f"model={model}", f"backend={backend}", f"extractor={extractor}")
        leaves = config_leaves(cfg)
        for spec in stagegraph.stages().values():
            for prefix, why in excluded(spec, cfg).items():
                assert why.strip(), f"{spec.name}: {prefix} has no reason"
                declared.add(f"{spec.name}:{prefix}")
                if any(is_excluded(leaf, {prefix: why}) for leaf in leaves):
                    used.add(f"{spec.name}:{prefix}")
        assert all(any(is_excluded(leaf, {k: v}) for leaf in leaves) for k, v in store.NOT_RESULT.items())
    assert declared - used == set()


# Keys added after runs were stored (dotted key with its env, the override that moves it): at the value
# that plays as before they stay out of the signature, so existing runs keep their folders.
ADDED = [("webshop", "rollout", "env.results_shown", "3"), ("alfworld", "rollout", "env.max_actions", "50"),
         ("alfworld", "teacher", "env.repeat_on", "output"), ("webshop", "reference", "env.repeat_on", "output"),
         ("alfworld", "train", "train.drop_unparsed", "false"), ("webshop", "teacher", "retrieval.pad", "false"),
         ("alfworld", "teacher", "retrieval.fallback", "first"), ("alfworld", "extract", "hints.cut_chars", "240"),
         ("webshop", "extract", "hints.keep_hints", "4"), ("alfworld", "train", "train.task_only", "true"),
         ("alfworld", "rollout", "agent.recent_turns", "4"), ("alfworld", "demos", "agent.memory", "true"),
         ("alfworld", "rollout", "agent.task_last", "true"),
         ("alfworld", "train", "train.round", "1"),
         ("alfworld", "teacher", "retrieval.model", "{name:r,path:/r,gguf_file:null,max_context:8}"),
         ("webshop", "rollout", "backend.quantization", "4bit"),
         ("alfworld", "extract", "extractor.backend.quantization", "4bit"),
         ("alfworld", "train", "train.loss_on", "all"), ("alfworld", "imitate", "imitation.label", "expert")]


def holds(values: dict, leaf: str) -> bool:
    """Whether a signature's values hold `leaf`, or leaves under it (a key whose value is a config)."""
    return any(key == leaf or key.startswith(leaf + ".") for key in values)


@pytest.mark.parametrize("env,stage,leaf,other", ADDED, ids=[a[2] for a in ADDED])
def test_a_key_added_later_is_hashed_only_away_from_its_old_behaviour(env: str, stage: str, leaf: str,
                                                                    other: str) -> None:
    plain = make_cfg("env.data_dir=/d", f"env={env}")
    moved = make_cfg("env.data_dir=/d", f"env={env}", f"{leaf}={other}")
    assert not holds(store.signature(stage, plain)["values"], leaf)
    assert holds(store.signature(stage, moved)["values"], leaf)
    assert store.run_key(stage, moved) != store.run_key(stage, plain)


def test_every_key_declared_as_added_later_is_tested_above() -> None:
    from hintrag import envs

    declared = {*stagegraph.TRAIN_ADDED, *stagegraph.RETRIEVAL_ADDED, *stagegraph.HINTS_ADDED, *stagegraph.AGENT_ADDED,
                *stagegraph.IMITATION_ADDED,
                *stagegraph.backend_added("backend"), *stagegraph.backend_added("extractor.backend")}
    for env in options("env"):
        declared |= {f"env.{k}" for k in envs.added(make_cfg(f"env={env}").env)}
    assert declared == {leaf for _, _, leaf, _ in ADDED}


def key(stage: str, *overrides: str) -> str:
    return store.run_key(stage, make_cfg("env.data_dir=/d", *overrides))


@pytest.mark.parametrize("stage", ["rollout", "teacher", "eval"])
def test_the_second_examples_header_is_hashed_only_where_a_second_example_is_shown(stage: str) -> None:
    other = "agent.next_example_header=Next example:"
    assert key(stage, other) == key(stage)  # agent.fewshot=1 shows one example
    assert key(stage, "agent.fewshot=2", other) != key(stage, "agent.fewshot=2") != key(stage)
    assert key("demos", other) == key("demos")  # demonstrations show none


@pytest.mark.parametrize("override", ["env.seed=7", "env.max_steps=10", "env.invalid_action_text=null",
                                      "env.results_shown=3"])
def test_webshop_keys_that_change_episodes_change_the_folder(override: str) -> None:
    assert key("rollout", "env=webshop", override) != key("rollout", "env=webshop")


@pytest.mark.parametrize("override", ["env.search=lucene", "env.cache_dir=/tmp/idx", "n_episodes=9"])
def test_webshop_speed_and_scope_knobs_share_the_folder(override: str) -> None:
    assert key("rollout", "env=webshop", override) == key("rollout", "env=webshop")


@pytest.mark.parametrize("stage", ["rollout", "teacher", "eval", "extract"])
def test_the_batch_moves_a_local_engine_and_not_a_server(stage: str) -> None:
    """In bfloat16 a local engine's greedy pick can depend on its batch mates; a server answers each alone."""
    assert key(stage, "batch_size=1") != key(stage)
    server = ["backend=openai", "extractor=gpt-4o"]
    assert key(stage, *server, "batch_size=1") == key(stage, *server)
    assert key("train", "batch_size=1") != key("train")  # through the runs it learns from


@pytest.mark.parametrize("override", ["logger=wandb", "train.save_steps=5", "train.keep_checkpoints=9"])
def test_logging_and_checkpointing_do_not_move_a_student(override: str) -> None:
    assert key("train", override) == key("train")
    assert key("eval", override) == key("eval")  # a later plain mode=eval finds the adapter


@pytest.mark.parametrize("override", ["train.lr=1e-4", "train.epochs=2", "lora_rank=16", "train.regime=sft"])
def test_recipe_keys_move_the_student_and_its_evaluation(override: str) -> None:
    assert key("train", override) != key("train") and key("eval", override) != key("eval")
    assert key("teacher", override) == key("teacher")  # nothing upstream moves


def test_the_separate_reranker_moves_the_teacher_alone_and_its_memory_share_moves_nothing() -> None:
    """retrieval.model enters the teacher's key (and its students' through it), not Stage A's; of
    retrieval.backend, what changes answers (a 4-bit load) is hashed, a memory share is not, and
    nothing of it while no separate re-ranker reads it."""
    vllm, separate = "backend=vllm", "+model@retrieval.model=7b"
    plain = key("teacher", vllm, separate)
    assert plain != key("teacher", vllm) and key("train", vllm, separate) != key("train", vllm)
    assert key("rollout", vllm, separate) == key("rollout", vllm)
    assert key("extract", vllm, separate) == key("extract", vllm)
    assert key("teacher", vllm, separate, "+retrieval.backend.gpu_memory_utilization=0.2") == plain
    assert key("teacher", vllm, separate, "+retrieval.backend.quantization=4bit") != plain
    assert key("teacher", vllm, "+retrieval.backend.quantization=4bit") == key("teacher", vllm)


def test_aliases_and_their_targets_are_one_setting() -> None:
    assert key("teacher", "k=5") == key("teacher", "teacher.k=5") != key("teacher")
    assert key("train", "lora_rank=16") == key("train", "train.lora_rank=16") != key("train")
    assert make_cfg("backend=vllm", "lora_rank=16").backend.max_lora_rank == 16


def test_sweeps_share_their_upstream_runs() -> None:
    """`-m mode=teacher k=1,3` shares Stage A and the bank; `-m mode=train lora_rank=16,64` shares the teacher."""
    def upstream_keys(stage: str, *overrides: str) -> set[str]:
        cfg = make_cfg("env.data_dir=/d", *overrides)
        return {store.run_key(link.stage, up) for link, up in store.upstream(stage, cfg)}

    assert upstream_keys("teacher", "k=1") == upstream_keys("teacher", "k=3")
    assert key("teacher", "k=1") != key("teacher", "k=3")
    assert upstream_keys("train", "lora_rank=16") == upstream_keys("train", "lora_rank=64")
    assert key("train", "lora_rank=16") != key("train", "lora_rank=64")


def test_a_signature_holds_its_upstream_chain_and_the_key_is_its_hash() -> None:
    cfg = make_cfg("env.data_dir=/d")
    sig = store.signature("eval", cfg)
    (train,) = sig["upstream"]
    (teacher,) = train["upstream"]
    (extract,) = teacher["upstream"]
    (stage_a,) = extract["upstream"]
    assert [s["stage"] for s in (sig, train, teacher, extract, stage_a)] == ["eval", "train", "teacher", "extract",
                                                                              "rollout"]
    assert teacher["values"]["teacher.k"] == 3 and stage_a["values"]["split"] == "train"
    assert store.run_key("train", cfg).endswith(store.digest(train))


def test_a_student_evaluation_is_keyed_the_same_before_and_after_its_adapter_is_set() -> None:
    """mode=eval plays with model.adapter set to the student's folder; neither its key nor the chain
    it hashes may depend on that path, or the report and a rerun in a moved store would not find it."""
    plain = make_cfg("env.data_dir=/d", "store.root=/a")
    playing = store.with_values(make_cfg("env.data_dir=/d", "store.root=/b"), {"model.adapter": "/b/train/x/adapter"})
    assert store.signature("eval", plain) == store.signature("eval", playing)
    assert key("rollout", "model.adapter=/some/adapter") != key("rollout")  # a user's own adapter does count


def test_a_store_from_before_is_refused_naming_what_to_delete(tmp_path: Path) -> None:
    (tmp_path / "rollout" / "alfworld-react-old-1a2b3c4d").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"written by an older hintrag .* Delete .*rollout"):
        store.check_store(tmp_path)
    fresh = tmp_path / "fresh"
    store.check_store(fresh)
    store.check_store(fresh)  # idempotent once marked
    assert (fresh / store.MARKER).is_file()
