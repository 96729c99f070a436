"""At the first sight of the task's object, how did the agent score taking it? For each lost game of
an ALFWorld run whose agent saw the object and did not take it next, the run's own model and
agent (its config.yaml: warm start, prompt, dtype) score, on that turn's prompt, the command it
chose and `take <object> from <place>`: summed log-likelihood (what agent.act=rank compares) and
per token. Analysis only; read train or selection games, not the reported split.

  python experiments/alfworld_first_sight.py outputs/rollout/alfworld-act-...-train-s0-<key> [--games 12]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from alfworld_progress import run_records  # noqa: E402
from hintrag.envs.alfworld_progress import Sight, missed_sight  # noqa: E402
from hintrag.records import StepRecord  # noqa: E402


def score(run: Path, games: int) -> list[tuple[Sight, list[float], list[int]]]:
    """Each missed sight's [chosen, take] summed log-likelihoods and token counts, by the run's model."""
    from omegaconf import OmegaConf

    from hintrag.agents import make_agent
    from hintrag.llm import make_backend
    from hintrag.llm.base import RankRequest

    cfg = OmegaConf.load(run / "config.yaml")
    sights = [(s, rec) for rec in run_records(run) if (s := missed_sight(rec))][:games]
    agent, backend = make_agent(cfg.agent, cfg.env), make_backend(cfg.backend, cfg.model, cfg.generation)
    requests = [RankRequest(agent.messages(rec["prompt"], [StepRecord(**t) for t in rec["trace"][: s.turn + 1]]),
                            [s.chosen, s.take]) for s, rec in sights]
    return [(s, r.logprobs, r.tokens) for (s, _), r in zip(sights, backend.rank(requests))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a rollout run folder of the store")
    parser.add_argument("--games", type=int, default=12, help="at most this many missed sights")
    args = parser.parse_args()
    scored = score(args.run, args.games)
    below = per_token = 0
    for sight, (chosen, take), (n_chosen, n_take) in scored:
        below += take < chosen
        per_token += take / n_take > chosen / n_chosen
        print(f"{sight.episode_id.split('/')[1]}: {sight.chosen!r} {chosen:.2f} ({n_chosen} tokens) | "
              f"{sight.take!r} {take:.2f} ({n_take} tokens)")
    print(f"{len(scored)} missed sights: the take scored below the chosen command in {below}; "
          f"per token the take would win in {per_token}")


if __name__ == "__main__":
    main()
