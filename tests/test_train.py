"""Stage D: training data keeps no hint and no few-shot text; training resumes; students evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_cfg, tiny_overrides

from hintrag import store
from hintrag.agents import AGENTS, make_agent
from hintrag.envs.examples import load_examples
from hintrag.errors import ConfigError
from hintrag.stages import run_mode
from hintrag.training import data
from hintrag.training.template import CHATML_TRAINING, training_template

HINTS = ["ZQX-HINT-ONE open {receptacle} first.", "ZQX-HINT-TWO check {object} twice."]
EXTRA = "ZQX-HINT-EXTRA look before you leap."
TASK_OBS = {"alfworld": "You are in the middle of a room. You see a desk 1.\n\nYour task is to: put a cd in desk.",
            "webshop": "WebShop [SEP] Instruction: [SEP] i need a red hat under 20 dollars [SEP] Search"}
CATEGORY = {"alfworld": "pick_and_place_simple", "webshop": "fashion"}
OUTPUTS = {"react": ["think: find the cd", "go to desk 1", "go to desk 1"],
           "act": ["go to desk 1", "take cd 1 from desk 1", "take cd 1 from desk 1"],
           "stateact": ["goal: x\nthought: hm\naction: go to desk 1", "goal: x\naction: look", "goal: x\naction: look"]}


def teacher_record(agent, env: str, agent_name: str) -> dict:
    """A teacher episode as the rollout loop writes it: hints in the opening, an extra hint on a repeat."""
    opening = agent.opening(TASK_OBS[env], CATEGORY[env], hints=HINTS)
    trace = [{"output": o, "action": agent.parse(o).action, "kind": agent.parse(o).kind, "observation": f"obs {i}",
              "prompt_tokens": 1, "completion_tokens": 1, "finish_reason": "eos", "extra_hint": EXTRA if i == 2 else ""}
             for i, o in enumerate(OUTPUTS[agent_name])]
    return {"episode_id": "e1", "category": CATEGORY[env], "task": "t", "initial_observation": TASK_OBS[env],
            "success": True, "reward": 1.0, "steps": 3, "invalid_actions": 0, "prompt": opening, "trace": trace,
            "retrieval": {"hints": [{"id": "h", "text": h} for h in HINTS]}}


@pytest.mark.parametrize("env", ["alfworld", "webshop"])
@pytest.mark.parametrize("agent_name", AGENTS)
def test_no_hint_and_no_fewshot_text_survives(env: str, agent_name: str) -> None:
    cfg = make_cfg(f"env={env}", f"agent={agent_name}")
    agent = make_agent(cfg.agent, cfg.env)
    rec = teacher_record(agent, env, agent_name)
    assert any(HINTS[0] in m["content"] for m in rec["prompt"])  # the teacher did see them
    example = load_examples(env)[CATEGORY[env]]
    assert any(example.initial_observation in m["content"] for m in rec["prompt"])
    chat, = (e.messages for e in data.to_examples(rec, agent))
    text = "\n".join(m["content"] for m in chat)
    for hint in HINTS + [EXTRA]:
        assert hint not in text
    assert "ZQX" not in text and cfg.agent.hint_header not in text and cfg.agent.extra_hint_prefix not in text
    assert example.initial_observation not in text and cfg.agent.example_header not in text
    assert not any(s.thought and s.thought in text for s in example.steps)
    assert [m["role"] for m in chat] == ["system", "user"] + ["assistant", "user"] * 2 + ["assistant"]
    assert chat[1]["content"] == TASK_OBS[env]
    assert [m["content"] for m in chat if m["role"] == "assistant"] == [agent.turn_text(o) for o in OUTPUTS[agent_name]]


@pytest.mark.parametrize("agent_name", AGENTS)
def test_task_only_trains_on_the_task_line_without_the_receptacle_list(agent_name: str) -> None:
    """train.task_only=true (paper_alfworld): the authors' ALFWorld student data kept `Your task is
    to: ...` of the first observation, not the room's list; WebShop keeps its first page whole."""
    from hintrag import envs

    for env, expected in (("alfworld", "Your task is to: put a cd in desk."), ("webshop", TASK_OBS["webshop"])):
        cfg = make_cfg(f"env={env}", f"agent={agent_name}", "train.task_only=true")
        agent = make_agent(cfg.agent, cfg.env)
        chat, = (e.messages for e in data.to_examples(teacher_record(agent, env, agent_name), agent,
                                                     envs.task_only(cfg.env)))
        assert chat[1]["content"] == expected and "desk 1." not in chat[1]["content"]
    assert make_cfg("experiment=paper_alfworld").train.task_only and not make_cfg().train.task_only


def test_drop_reasons() -> None:
    ok = {"reward": 1.0, "success": True, "invalid_actions": 0, "nothing_happens": 1, "trace": [{"observation": "fine"}]}
    keep = data.Keep()
    assert data.drop_reason(ok, keep) is None
    assert data.drop_reason({**ok, "reward": 0.5, "success": False}, keep) == "not_successful"
    assert data.drop_reason({**ok, "reward": 0.5, "success": False}, data.Keep(min_reward=0.5)) is None
    assert data.drop_reason({**ok, "invalid_actions": 1}, keep) == "invalid_action"
    assert data.drop_reason({**ok, "trace": [{"observation": "Invalid action!"}]},
                            data.Keep(invalid_text="Invalid action!")) == "invalid_action"


def test_the_authors_nothing_happens_filter_keeps_fewer_than_two() -> None:
    """paper_alfworld keeps successes with fewer than 2 "Nothing happens." (train.max_nothing_happens=1)."""
    keep = data.Keep.from_config(make_cfg("experiment=paper_alfworld").train, make_cfg().env)
    assert keep.max_nothing_happens == 1 and data.Keep.from_config(make_cfg().train, make_cfg().env).max_nothing_happens is None
    ok = {"reward": 1.0, "success": True, "invalid_actions": 0, "trace": [{"observation": "fine"}]}
    assert [data.drop_reason({**ok, "nothing_happens": n}, keep) for n in (0, 1, 2)] == [None, None, "nothing_happens"]


def test_the_authors_alfworld_data_keeps_an_unparsed_turn_and_counts_its_nothing_happens() -> None:
    """train.drop_unparsed=false (paper_alfworld): their game answered an unparsed output "Nothing
    happens.", which the filter above counts; they did not drop the episode for it."""
    paper, plain = (data.Keep.from_config(make_cfg(*o).train, make_cfg().env)
                    for o in (["experiment=paper_alfworld"], []))
    one = {"reward": 1.0, "success": True, "invalid_actions": 1, "nothing_happens": 1,
           "trace": [{"observation": "Nothing happens."}]}
    assert (paper.drop_unparsed, plain.drop_unparsed) == (False, True)
    assert (data.drop_reason(one, paper), data.drop_reason(one, plain)) == (None, "invalid_action")
    assert data.drop_reason({**one, "nothing_happens": 2}, paper) == "nothing_happens"


def test_chatml_training_template_renders_like_the_model_and_marks_the_end_token(embedded_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model_dir)
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a b"}]
    assert training_template(tok, [chat]) == CHATML_TRAINING
    out = tok.apply_chat_template(chat, chat_template=CHATML_TRAINING, tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True)
    marked = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(marked) == "a b<|im_end|>"


# A student trained for a few steps on whatever the tiny model played (it wins nothing, so reward >= 0).
STUDENT = ["train.min_reward=0", "train.batch_size=1", "train.grad_accum=1", "lora_rank=4"]


@pytest.fixture(scope="module")
def stage_a(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, alfworld_data: Path):
    root = tmp_path_factory.mktemp("store")
    base = tiny_overrides(tiny_model_dir, alfworld_data, root) + ["max_steps=2", "train.regime=sft"]
    run_mode(make_cfg(*base, "mode=rollout", "split=train", "n_episodes=3"))
    return root, base


def test_zero_usable_examples_is_one_clear_error(stage_a) -> None:
    root, base = stage_a
    with pytest.raises(ConfigError, match=r"no usable training examples in rollout run .*-train-.*not_successful"):
        run_mode(make_cfg(*base, "mode=train"))
    with pytest.raises(ConfigError, match=r"no trajectories of Stage C.* at .*mode=teacher split=train"):
        run_mode(make_cfg(*base, "mode=train", "train.regime=distill"))
    with pytest.raises(ConfigError, match="lora_rank"):
        run_mode(make_cfg(*base, "mode=train", "lora_rank=0"))


def test_train_resumes_from_its_checkpoint_then_the_student_evaluates(stage_a, monkeypatch: pytest.MonkeyPatch) -> None:
    import trl

    root, base = stage_a
    cfg = make_cfg(*base, "mode=train", *STUDENT, "train.save_steps=1")
    original = trl.SFTTrainer._save_checkpoint
    saved = []

    def die_after_first_checkpoint(self, *args, **kwargs):
        original(self, *args, **kwargs)
        saved.append(self.state.global_step)
        raise KeyboardInterrupt  # preempted right after writing checkpoint-1

    monkeypatch.setattr(trl.SFTTrainer, "_save_checkpoint", die_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run_mode(cfg)
    monkeypatch.setattr(trl.SFTTrainer, "_save_checkpoint", original)
    folder = root / "train" / store.run_key("train", cfg)
    assert saved == [1] and (folder / "checkpoints" / "checkpoint-1").is_dir() and not (folder / "adapter").exists()

    summary = run_mode(cfg)
    assert summary["resumed_from"].endswith("checkpoint-1") and summary["steps"] == summary["train_examples"] == 3
    assert (folder / "adapter" / "adapter_config.json").is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source_stage"] == "rollout" and manifest["kept"] == 3 and manifest["dropped"] == {}
    from datasets import load_dataset

    assert load_dataset("json", data_files=str(folder / "dataset" / "train.jsonl"))["train"].num_rows == 3

    result = run_mode(make_cfg(*base, "mode=eval", *STUDENT, "train.save_steps=1", "n_episodes=2"))
    records = list(store.read_jsonl(Path(result["run"]) / "trajectories.jsonl"))
    assert len(records) == 2 and all(len(r["prompt"]) == 2 and r["retrieval"] is None for r in records)
    (trained,) = store.signature("eval", make_cfg(*base, "mode=eval", *STUDENT, "train.save_steps=1"))["upstream"]
    assert store.digest(trained) == folder.name.rsplit("-", 1)[1]
    # the report finds the student by its signature (played with its adapter path set, keyed without it)
    report = run_mode(make_cfg(*base, "mode=report", *STUDENT, "n_episodes=2", "logger=wandb"))
    table = (Path(report["run"]) / "table.md").read_text()
    assert result["run"].split("/")[-1] in table and "| SFT | 0.00 [0.0, 65.8] |" in table


@pytest.mark.slow
def test_distill_then_eval_with_the_embedded_model(tmp_path: Path, alfworld_data: Path) -> None:
    """The whole chain on the real SmolLM2: Stage A, B (local extractor), C on train games, D, student eval.

    SmolLM2-135M essentially never wins an ALFWorld game, so this keeps every teacher episode
    (train.min_reward=0) to exercise training for real on a handful of examples."""
    common = [f"env.data_dir={alfworld_data}", f"store.root={tmp_path}", "max_steps=3", "train.min_reward=0",
              "train.max_length=1024", "lora_rank=8", "hints.max_new_tokens=96", "retrieval=tfidf"]
    run_mode(make_cfg(*common, "mode=rollout", "split=train", "n_episodes=3"))
    run_mode(make_cfg(*common, "mode=extract"))
    teacher = run_mode(make_cfg(*common, "mode=teacher", "split=train", "n_episodes=3"))
    trained = run_mode(make_cfg(*common, "mode=train"))
    assert trained["source_stage"] == "teacher" and trained["source_run"] == Path(teacher["run"]).name
    assert trained["kept"] == 3 and trained["steps"] >= 1 and trained["tokens_seen"] > 0
    student = run_mode(make_cfg(*common, "mode=eval", "n_episodes=2"))
    base = run_mode(make_cfg(*common, "mode=rollout", "n_episodes=2"))
    assert student["n_episodes"] == base["n_episodes"] == 2
    assert set(student) >= {"success_rate", "score", "mean_steps", "mean_total_tokens"}


def test_training_curves_reach_wandb_offline(stage_a, monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_offline import summary

    root, base = stage_a
    monkeypatch.setenv("WANDB_MODE", "offline")
    run_mode(make_cfg(*base, "mode=train", "train.min_reward=0", "lora_rank=2", "logger=wandb"))
    runs = [summary(p) for p in (root / "wandb").glob("offline-run-*/run-*.wandb")]
    train = [r for r in runs if r["job_type"] == "train"]
    assert len(train) == 1 and "stage:train" in train[0]["tags"]
    assert {"train", "train_loss", "kept"} <= train[0]["history"]  # trl's curves (train/loss, ...) and ours


def test_a_checkpoint_cut_short_by_a_kill_is_dropped_for_the_last_complete_one(tmp_path: Path) -> None:
    from transformers.trainer_utils import get_last_checkpoint

    from hintrag.training.sft import last_checkpoint

    def checkpoint(step: int, state: str | None) -> Path:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"):
            (folder / name).write_bytes(b"x")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
        return folder

    checkpoint(1, json.dumps({"global_step": 1}))
    checkpoint(2, json.dumps({"global_step": 2}))
    cut = checkpoint(3, '{"global_step": 3, "log_hi')  # killed while writing the state, the last file saved
    bare = checkpoint(10, None)  # killed before the state
    assert get_last_checkpoint(str(tmp_path)).endswith("checkpoint-10")  # what transformers alone would resume from
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    assert not cut.exists() and not bare.exists() and (tmp_path / "checkpoint-1").is_dir()
    assert last_checkpoint(tmp_path / "none") is None


def test_a_finished_training_is_not_redone_and_grown_data_is_not_mixed_in(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    base = tiny_overrides(tiny_model_dir, alfworld_data, tmp_path) + ["max_steps=2", "train.regime=sft"]
    student = ["mode=train", *STUDENT]
    run_mode(make_cfg(*base, "mode=rollout", "split=train", "n_episodes=2"))
    first = run_mode(make_cfg(*base, *student))
    monkeypatch.setattr(transformers.PreTrainedModel, "from_pretrained",
                        classmethod(lambda *a, **k: pytest.fail("a finished run loaded the model")))
    assert run_mode(make_cfg(*base, *student)) == first
    monkeypatch.undo()

    run_mode(make_cfg(*base, "mode=rollout", "split=train", "n_episodes=3"))  # the source run grows
    with pytest.raises(ConfigError, match=r"was started on 2 episodes of .*now has 3.*Delete .* to train on all"):
        run_mode(make_cfg(*base, *student))


def test_warmup_leaves_at_least_one_step_at_a_nonzero_rate() -> None:
    from hintrag.training.sft import warmup_steps

    assert [warmup_steps(1, n) for n in (1, 2, 10)] == [0, 1, 1]  # HF's ceil(0.1 n) kept when n > 1
    assert warmup_steps(5, 3) == 2 and warmup_steps(0, 0) == 0


def test_a_one_step_run_moves_the_lora_weights(stage_a) -> None:
    """One optimizer step with warmup_ratio 0.1: HF would warm up over that step at lr 0 and save
    the zero-initialised LoRA B matrices unchanged (a student identical to its base)."""
    from safetensors.torch import load_file

    root, base = stage_a
    cfg = make_cfg(*base, "mode=train", *STUDENT, "train.grad_accum=8", "train.eval_fraction=0")
    summary = run_mode(cfg)
    assert summary["steps"] == 1 and summary["warmup_steps"] == 0
    weights = load_file(str(root / "train" / store.run_key("train", cfg) / "adapter" / "adapter_model.safetensors"))
    assert any(bool(t.abs().sum() > 0) for name, t in weights.items() if "lora_B" in name)


def test_a_label_smoothed_step_runs_the_model_once_and_logs_its_metrics(
    stage_a, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trl 1.16 runs a second, gradient-free forward for its metrics when the loss is label-smoothed
    (WebShop's recipe); the trainer here reads them off the loss's logits instead."""
    import torch
    from transformers.models.llama.modeling_llama import LlamaModel

    from hintrag.training.sft import token_metrics

    root, base = stage_a
    cfg = make_cfg(*base, "mode=train", *STUDENT, "train.label_smoothing=0.1", "train.eval_fraction=0",
                   "train.save_steps=3")
    calls = []
    original = LlamaModel.forward  # the decoder: trl's metrics pass skips the LM class's forward
    monkeypatch.setattr(LlamaModel, "forward", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    summary = run_mode(cfg)
    assert summary["steps"] == summary["train_examples"] == 3 and len(calls) == 3
    state = root / "train" / store.run_key("train", cfg) / "checkpoints" / "checkpoint-3" / "trainer_state.json"
    logged = [h for h in json.loads(state.read_text())["log_history"] if "loss" in h]
    assert len(logged) == 3 and all(0 < h["entropy"] and 0 <= h["mean_token_accuracy"] <= 1 for h in logged)

    # positions 0 and 1 predict targets 0 and 1: uniform (ln 2, argmax 0: a hit) and softmax(2, 0) (a miss)
    entropy, hits, count = token_metrics(torch.tensor([[[0.0, 0.0], [2.0, 0.0], [9.0, 9.0]]]),
                                         torch.tensor([[0, 1, -100]]))
    assert count == 2 and hits == 1 and abs(float(entropy) - (0.693147 + 0.365334)) < 1e-5


def test_length_grouped_batches_pad_less_and_the_padding_is_reported(tmp_path: Path, tiny_model_dir: Path,
                                                                     alfworld_data: Path) -> None:
    """Examples of two very different lengths in batches of 2: grouped by length, the batches pair
    like with like; drawn at random they mix, and the padded share (train metrics) shows it."""
    from hintrag.training.sft import train_adapter

    short, long = "go to desk 1", "take cd 1 from desk 1 " * 40
    chats = [[{"role": "system", "content": "s"}, {"role": "user", "content": f"room {i}"}, {"role": "assistant", "content": long if i % 2 else short}]
             for i in range(64)]
    data.write_jsonl(tmp_path / "train.jsonl", [data.Example(f"e{i}", "c", chat) for i, chat in enumerate(chats)])
    padded = {}
    for sampling in ("random", "group_by_length"):
        cfg = make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), *STUDENT, "train.batch_size=2",
                       f"train.sampling={sampling}", "train.seed=1")
        out = tmp_path / sampling
        out.mkdir()
        padded[sampling] = train_adapter(cfg, tmp_path / "train.jsonl", None, out)["padded_fraction"]
    assert padded["group_by_length"] < 0.1 < padded["random"]


def test_callbacks_see_every_step_and_the_metrics_carry_the_peak_memory(tmp_path: Path, tiny_model_dir: Path,
                                                                        alfworld_data: Path) -> None:
    """A caller's callback (the memory benchmark's probe) is called after each optimizer step, and the
    run's metrics carry the process's peak resident memory, never below what was resident at a step."""
    from transformers import TrainerCallback

    from hintrag.machine import resident_gib
    from hintrag.training.sft import train_adapter

    class Resident(TrainerCallback):
        def __init__(self) -> None:
            self.seen: list[tuple[int, float]] = []

        def on_step_end(self, args, state, control, **kwargs) -> None:  # noqa: ANN001
            self.seen.append((state.global_step, resident_gib()))

    chats = [[{"role": "system", "content": "s"}, {"role": "user", "content": f"room {i}"},
              {"role": "assistant", "content": "go to desk 1"}] for i in range(8)]
    data.write_jsonl(tmp_path / "train.jsonl", [data.Example(f"e{i}", "c", chat) for i, chat in enumerate(chats)])
    cfg = make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), *STUDENT, "train.batch_size=2",
                   "train.grad_accum=1")
    probe = Resident()
    metrics = train_adapter(cfg, tmp_path / "train.jsonl", None, tmp_path, callbacks=[probe])
    assert [step for step, _ in probe.seen] == [1, 2, 3, 4] == list(range(1, metrics["steps"] + 1))
    assert metrics["process_peak_rss_gib"] >= max(gib for _, gib in probe.seen) - 0.01 > 0


def test_the_loss_on_its_own_positions_equals_the_loss_on_the_full_logits(tiny_model_dir: Path) -> None:
    """The vocabulary projection at the positions the loss reads only: the same label-smoothed loss."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.trainer_pt_utils import LabelSmoother

    from hintrag.training.sft import loss_positions

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (3, 40))
    labels = torch.full_like(ids, -100)
    labels[0, 30:34], labels[1, 12:15], labels[2, 38:] = ids[0, 30:34], ids[1, 12:15], ids[2, 38:]
    smoother = LabelSmoother(epsilon=0.1)
    full = smoother(model(input_ids=ids), labels, shift_labels=True)
    positions = loss_positions(labels)
    assert positions.tolist() == [11, 12, 13, 29, 30, 31, 32, 37, 38]
    kept = smoother({"logits": model(input_ids=ids, logits_to_keep=positions).logits}, labels[:, positions + 1])
    assert float(kept) == pytest.approx(float(full), abs=1e-5)


CHATS = [[{"role": "system", "content": "You play a text game."}, {"role": "user", "content": "room " * (1 + 9 * i)},
          {"role": "assistant", "content": "go to desk 1"}, {"role": "user", "content": "You arrive at desk 1."},
          {"role": "assistant", "content": "take cd 1 from desk 1"}] for i in range(2)]


@pytest.mark.parametrize("loss_on", ["assistant", "all"])
def test_the_loss_covers_every_token_with_all_and_the_answers_alone_with_assistant(
    tmp_path: Path, tiny_model_dir: Path, alfworld_data: Path, loss_on: str
) -> None:
    """train.loss_on=all (the authors' ALFWorld student): a collated batch's labels are its tokens,
    prompt and observations included, -100 on padding alone; the tokens are the chat as the model's
    template renders it, as the student is prompted. assistant: the answers and their end tokens only."""
    from transformers import AutoTokenizer

    from hintrag.training.sft import make_trainer
    from hintrag.training.template import chat_text

    data.write_jsonl(tmp_path / "train.jsonl", [data.Example(f"e{i}", "c", chat) for i, chat in enumerate(CHATS)])
    cfg = make_cfg(*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), *STUDENT, f"train.loss_on={loss_on}")
    trainer, _, _ = make_trainer(cfg, tmp_path / "train.jsonl", None, tmp_path / "out")
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(CHATS))])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert (batch["attention_mask"] == 0).any()  # the shorter chat is padded
    for row, chat in enumerate(CHATS):
        real = batch["attention_mask"][row] == 1
        ids, labels = batch["input_ids"][row][real], batch["labels"][row]
        assert (labels[~real] == -100).all()
        if loss_on == "all":
            assert ids.tolist() == tokenizer(chat_text(tokenizer, chat), add_special_tokens=False).input_ids
            assert labels[real].tolist() == ids.tolist()
        else:
            kept = labels[real][labels[real] != -100]
            assert tokenizer.decode(kept) == "go to desk 1<|im_end|>take cd 1 from desk 1<|im_end|>"
    assert chat_text(tokenizer, CHATS[0]).endswith("take cd 1 from desk 1<|im_end|>")  # one end token, trl adds none


def test_a_student_trains_on_every_token_end_to_end(stage_a) -> None:
    """mode=train with train.loss_on=all runs on CPU to its adapter, in a train run of its own."""
    import math

    root, base = stage_a
    cfg = make_cfg(*base, "mode=train", *STUDENT, "train.loss_on=all", "train.eval_fraction=0")
    summary = run_mode(cfg)
    assert summary["steps"] == summary["train_examples"] == 3 and summary["tokens_seen"] > 0
    assert math.isfinite(summary["train_loss"])
    assert (root / "train" / store.run_key("train", cfg) / "adapter" / "adapter_config.json").is_file()
    plain = make_cfg(*base, "mode=train", *STUDENT, "train.eval_fraction=0")
    assert store.run_key("train", cfg) != store.run_key("train", plain)
    assert store.run_key("train", make_cfg(*base, "train.loss_on=assistant")) == store.run_key("train", make_cfg(*base))


def test_gradient_checkpointing_follows_the_config(tmp_path: Path) -> None:
    from hintrag.training.sft import sft_config

    assert not sft_config(make_cfg(), tmp_path, "none", False).gradient_checkpointing
    args = sft_config(make_cfg("train.gradient_checkpointing=true"), tmp_path, "none", False)
    assert args.gradient_checkpointing and args.gradient_checkpointing_kwargs == {"use_reentrant": False}
