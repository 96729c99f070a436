"""The stage graph: every stage of the method, what decides its result, what it reads, what it writes.

Open this file first. Each `StageSpec` below (hintrag.stagespec) is one `mode=`: the config groups
its run key hashes (minus excluded leaves, each with why), its upstream links, its folder-name
parts and the artifacts it writes. The warm-start edge and the report's inputs are here too.
Everything that needs the graph reads it and keeps no list of its own: the store hashes run keys,
the pipeline walks upstream links, the report finds its rows, tracking logs artifacts, validation
checks choices, and `hintrag.stages.MODES` maps each name to `run` in hintrag/stages/<module>.py.
Adding a stage is one declaration here and one `run(cfg, root)` there (plus its config).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from hintrag import envs, llm
from hintrag.stagespec import WARM_START, Exclude, Link, StageSpec, at_default, no_exclude, no_links, prefixed

# What stages write into their run folders (the artifacts below name them).
TRAJECTORIES = "trajectories.jsonl"  # one line per finished episode
TRAJECTORY_FILES = "trajectories*.jsonl"  # one file per shard when sharded
ERRORS = "errors.jsonl"  # episodes whose model calls failed after retries; they are played again on a rerun
PROPOSALS = "proposals.jsonl"  # Stage B: one hint proposal per failed episode
BANK = "bank.json"  # Stage B: the deduplicated hint bank
ADAPTER = "adapter"  # Stage D: the LoRA adapter folder

# What decides an episode's play: the game, the prompt, the weights, the decoding, the engine, the limits,
# and for a local engine the batch its model calls are made in (llm.batch_not_result).
PLAY_KEYS = ("env", "agent", "model", "generation", "backend", "seed", "split", "max_steps", "batch_size")


NEXT_EXAMPLE = "agent.next_example_header"  # the header of a second solved example
NEXT_EXAMPLE_WHY = "opens a second solved example, which the prompt shows only at agent.fewshot >= 2 (hashed)"


def play_exclude(cfg: DictConfig) -> Exclude:
    """The env's and the engine's keys that do not change an episode (declared by each env and backend),
    the env's and the agent's later keys while they play as before, and prompt text the prompt does not show."""
    added = {**{f"env.{key}": value for key, value in envs.added(cfg.env).items()}, **AGENT_ADDED}
    unshown = {NEXT_EXAMPLE: NEXT_EXAMPLE_WHY} if int(cfg.agent.fewshot) < 2 else {}
    return {**prefixed("env", envs.not_result(cfg.env)), **prefixed("backend", llm.not_result(cfg.backend)),
            **llm.batch_not_result(cfg.backend), **at_default(cfg, {**added, **backend_added("backend")}), **unshown}


# Agent keys added after runs were stored (stagespec.at_default, as the keys below): the decision state's options.
AGENT_ADDED = {"agent.recent_turns": None, "agent.memory": False, "agent.task_last": False}


def env_exclude(cfg: DictConfig) -> Exclude:
    """The env's own non-result keys, for stages that play no model (demos, the reference policy)."""
    return {k: v for k, v in play_exclude(cfg).items() if k.startswith("env.")}


def play_parts(cfg: DictConfig) -> list[str]:
    return [cfg.env.name, cfg.agent.name, cfg.model.name, cfg.split, f"s{cfg.seed}"]


def warm_start_link(cfg: DictConfig, model_key: str = "model") -> Link | None:
    """The warm-start edge: the BC train run (train.regime=bc, on the plain weights, with the
    warm_start recipe) whose adapter <model_key>.warm_start=bc merges into the weights of every
    stage that loads that model; None when it is off. The BC run always trains `model` (the
    agent's); hintrag.warmstart.check keeps another key's model the same."""
    if not OmegaConf.select(cfg, f"{model_key}.warm_start"):
        return None
    recipe = {f"train.{key}": value for key, value in cfg.warm_start.items()}  # every warm_start.* key overrides train.*
    return Link("train", {"train.regime": "bc", **recipe, "model.warm_start": None,
                          "model.warm_adapter": None, "model.adapter": None}, WARM_START)


# A student's training data: the teacher's trajectories (distill), the base agent's (sft, the
# baseline), or the env's expert demonstrations (bc, a behaviour-cloning warm start).
SOURCES = {"distill": "teacher", "sft": "rollout", "bc": "demos"}
STUDENT_REGIMES = {"sft": "SFT", "distill": "Distill"}  # train.regime -> the report's row
LOSS_ON = ("assistant", "all")  # train.loss_on: the tokens a student's loss covers (hintrag/training/sft.py)


def train_source(cfg: DictConfig) -> list[Link]:
    if cfg.train.regime == "bc":  # demonstrations pick their own episodes (demos.*, hashed upstream)
        return [Link("demos"), *imitation_source(cfg)]
    return [Link(SOURCES[cfg.train.regime], {"split": cfg.train.source_split})]


def imitation_source(cfg: DictConfig) -> list[Link]:
    """Round r > 0 of iterated imitation also learns from the imitation games of the agent of round
    r - 1 (warm-started with this run's recipe), or with imitation.label=expert from those of every
    earlier round (DAgger pools the expert's labels of all rounds)."""
    round_ = int(cfg.train.get("round", 0))
    recipe = {f"warm_start.{key}": cfg.train[key] for key in cfg.warm_start if key in cfg.train}
    pooled = OmegaConf.select(cfg, "imitation.label", default="won") == "expert"
    return [Link("imitate", {**recipe, "warm_start.round": earlier, "model.warm_start": "bc",
                             "model.warm_adapter": None, "model.adapter": None, "split": cfg.demos.split})
            for earlier in range(round_ - 1 if round_ and not pooled else 0, round_)]


def report_links(cfg: DictConfig) -> list[Link]:
    """The report's inputs, one per row: the env's reference policy, Base, RAG (this k), then a
    student per training regime; the report finds each by signature."""
    students = [Link("eval", {"train.regime": regime, "eval.student": True}, label)
                for regime, label in STUDENT_REGIMES.items()]
    return [Link("reference", {}, "Reference"), Link("rollout", {}, "Base"), Link("teacher", {}, "RAG"), *students]


NOT_PLAYED = "the expert writes every turn"
DEMOS_EXCLUDE = {"agent.max_new_tokens": f"a model's answer length; {NOT_PLAYED}",
                 "agent.stop": f"where a model's answer is cut; {NOT_PLAYED}",
                 "agent.act": f"how a model picks its action; {NOT_PLAYED}",
                 "agent.skip_unchanged": f"which actions a ranking model may pick; {NOT_PLAYED}",
                 NEXT_EXAMPLE: "a demonstration is rendered without solved examples"}
STUDENT_ADAPTER = {"model.adapter": "set to the student's adapter; its train run is hashed as upstream"}
TRAIN_EXCLUDE = {
    "train.report_to": "logging (set by logger=)",
    "train.save_steps": "checkpointing: a resumed run takes the same steps (tests/test_kill_resume.py)",
    "train.keep_checkpoints": "disk use",
    "model.max_context": "a playing limit; training truncates at train.max_length, hashed",
    "model.served_name": "the model's name on a server, not its weights",
    "model.adapter": "set only when a student plays; training starts from the base weights",
}


# Keys added after runs were stored, with the value that behaves as before them: out of the run key
# while they hold it (stagespec.at_default), so the runs made then keep their folders.
TRAIN_ADDED = {"train.drop_unparsed": True, "train.task_only": False, "train.round": 0, "train.loss_on": "assistant"}
RETRIEVAL_ADDED = {"retrieval.pad": True, "retrieval.fallback": "tfidf", "retrieval.model": None}
HINTS_ADDED = {"hints.cut_chars": None, "hints.keep_hints": None}
IMITATION_ADDED = {"imitation.label": "won"}
BACKEND_ADDED = {"quantization": None}  # keys of a backend config, wherever one sits (backend, extractor.backend)


def backend_added(prefix: str) -> dict[str, object]:
    """BACKEND_ADDED under the config key `prefix` that holds a backend."""
    return {f"{prefix}.{key}": value for key, value in BACKEND_ADDED.items()}


def reranker_exclude(cfg: DictConfig) -> Exclude:
    """retrieval.backend's keys that decide no answer: all of them while no separate re-ranker reads
    them (retrieval.model=null), else those of the engine's own not-result keys (memory, speed)."""
    overrides = OmegaConf.select(cfg, "retrieval.backend") or {}
    if OmegaConf.select(cfg, "retrieval.model") is None:
        return {f"retrieval.backend.{key}": "no separate re-ranker reads it (retrieval.model is null)"
                for key in overrides}
    skip = llm.not_result(cfg.backend)
    return {f"retrieval.backend.{key}": skip[key] for key in overrides if key in skip}


def _agent_model(cfg: DictConfig) -> str:
    return "model"


# In the order `mode=` lists them.
STAGES: dict[str, StageSpec] = {spec.name: spec for spec in (
    StageSpec(
        name="demos",
        describe=lambda cfg: f"expert demonstrations on {cfg.demos.split} ({cfg.demos.per_category} per category)",
        keys=("env", "agent", "demos"),  # the expert, the episodes, and the format the agent renders them in
        exclude=lambda cfg: {**env_exclude(cfg), **DEMOS_EXCLUDE, **at_default(cfg, AGENT_ADDED)},
        upstream=no_links,
        name_parts=lambda cfg: [cfg.env.name, cfg.agent.name, "expert", cfg.demos.split, f"n{cfg.demos.per_category}"],
        artifacts={"trajectories": TRAJECTORIES},
    ),
    StageSpec(
        name="rollout",
        describe=lambda cfg: f"Stage A: base agent on {cfg.split}",
        keys=PLAY_KEYS,
        exclude=play_exclude,
        upstream=no_links,
        name_parts=play_parts,
        artifacts={"trajectories": TRAJECTORY_FILES, "errors": ERRORS},
        loads_model=_agent_model,
    ),
    StageSpec(
        name="imitate",
        describe=lambda cfg: (f"iterated imitation: the round {cfg.warm_start.round} agent on {cfg.imitation.games} "
                              f"held-out {cfg.split} games"),
        keys=(*PLAY_KEYS, "imitation", "demos"),  # which games: after Stage A's, never the demos' (demos.*)
        exclude=lambda cfg: {**play_exclude(cfg), **prefixed("demos", {"max_steps": "the expert's step limit"}),
                             **at_default(cfg, IMITATION_ADDED)},
        upstream=no_links,  # the round's agent is the warm start (warm_start.round), linked as weights
        name_parts=lambda cfg: [*play_parts(cfg), f"imitate-r{cfg.warm_start.round}"],
        artifacts={"trajectories": TRAJECTORY_FILES, "errors": ERRORS},
        loads_model=_agent_model,
    ),
    StageSpec(
        name="extract",
        describe=lambda cfg: f"Stage B: hints from the failures on {cfg.hints.source_split}",
        keys=("extractor", "hints", "batch_size"),  # the failures read are hashed through the upstream Stage A run
        exclude=lambda cfg: {**prefixed("extractor.backend", llm.not_result(cfg.extractor.backend)),
                             **llm.batch_not_result(cfg.extractor.backend),
                             **at_default(cfg, {**HINTS_ADDED, **backend_added("extractor.backend")})},
        upstream=lambda cfg: [Link("rollout", {"split": cfg.hints.source_split})],
        name_parts=lambda cfg: [cfg.env.name, cfg.agent.name, cfg.model.name, cfg.hints.source_split, f"s{cfg.seed}",
                                cfg.extractor.name],
        artifacts={"proposals": PROPOSALS, "bank": BANK},
        loads_model=lambda cfg: "extractor.model" if llm.is_local(cfg.extractor.backend) else None,
    ),
    StageSpec(
        name="teacher",
        describe=lambda cfg: f"Stage C: RAG teacher (k={cfg.teacher.k}) on {cfg.split}",
        keys=(*PLAY_KEYS, "retrieval", "teacher"),
        exclude=lambda cfg: {**play_exclude(cfg), **at_default(cfg, RETRIEVAL_ADDED), **reranker_exclude(cfg)},
        upstream=lambda cfg: [Link("extract")],  # the bank: teacher.k and retrieval do not enter its key
        name_parts=lambda cfg: [*play_parts(cfg), cfg.retrieval.name, f"k{cfg.teacher.k}"],
        artifacts={"trajectories": TRAJECTORY_FILES},
        loads_model=_agent_model,
    ),
    StageSpec(
        name="bank",
        describe=lambda cfg: "the hint bank, printed",
        keys=(),  # writes no run of its own
        exclude=no_exclude,
        upstream=lambda cfg: [Link("extract")],
        name_parts=lambda cfg: [cfg.env.name, cfg.agent.name, cfg.model.name, cfg.extractor.name],
    ),
    StageSpec(
        name="train",
        describe=lambda cfg: ("warm start: behaviour cloning on expert demonstrations" if cfg.train.regime == "bc"
                              else f"Stage D: {cfg.train.regime} student from {cfg.train.source_split}"),
        keys=("train", "model"),  # the trajectories learnt from are hashed through the upstream run
        exclude=lambda cfg: {**TRAIN_EXCLUDE, **at_default(cfg, TRAIN_ADDED)},
        upstream=train_source,
        name_parts=lambda cfg: [cfg.env.name, cfg.agent.name, cfg.model.name, cfg.train.source_split, f"s{cfg.seed}",
                                cfg.train.regime, f"r{cfg.train.lora_rank}"],
        artifacts={"adapter": ADAPTER, "dataset": "dataset/*.jsonl", "manifest": "manifest.json"},
        loads_model=_agent_model,
        choices={"train.regime": tuple(SOURCES), "train.loss_on": LOSS_ON},
    ),
    StageSpec(
        name="eval",
        describe=lambda cfg: (f"{cfg.train.regime} student on {cfg.split}" if cfg.eval.student
                              else f"the agent on {cfg.split}"),
        keys=(*PLAY_KEYS, "eval"),
        exclude=lambda cfg: {**play_exclude(cfg), **(STUDENT_ADAPTER if cfg.eval.student else {})},
        # the student's train run, from the base weights (the adapter a student plays with is not its input)
        upstream=lambda cfg: [Link("train", {"model.adapter": None})] if cfg.eval.student else [],
        name_parts=lambda cfg: [*play_parts(cfg), f"student-{cfg.train.regime}" if cfg.eval.student else "agent"],
        artifacts={"trajectories": TRAJECTORY_FILES},
        loads_model=_agent_model,
        module="evaluate",
    ),
    StageSpec(
        name="reference",
        describe=lambda cfg: f"the env's reference policy on {cfg.split}",
        keys=("env", "split", "seed", "max_steps"),  # the game, the episodes, the random draws, the step limit
        exclude=env_exclude,
        upstream=no_links,
        name_parts=lambda cfg: [cfg.env.name, "reference", cfg.split, f"s{cfg.seed}"],
        artifacts={"trajectories": TRAJECTORIES},
    ),
    StageSpec(
        name="report",
        describe=lambda cfg: f"report on {cfg.split}",
        keys=("n_episodes", "report"),  # which episodes the table covers; the runs are hashed as upstream
        exclude=no_exclude,
        upstream=report_links,
        name_parts=lambda cfg: [cfg.env.name, "-".join(cfg.report.agents), cfg.model.name, cfg.split, f"s{cfg.seed}"],
        artifacts={"table": "table.md", "figure": "figure3.png"},
    ),
)}


def stages() -> dict[str, StageSpec]:
    """Every declared stage, by name."""
    return dict(STAGES)


def get(name: str) -> StageSpec:
    if name not in STAGES:
        raise KeyError(f"no stage {name!r}; declared: {', '.join(STAGES)}")
    return STAGES[name]
