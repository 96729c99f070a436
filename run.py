"""hintrag entry point: `python run.py mode=<stage> env=... agent=... model=...` (Hydra)."""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub lookups unless the user opts in (HF_HUB_OFFLINE=0)

import hydra
from omegaconf import DictConfig

from hintrag.errors import ConfigError, StepFailed


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from hintrag.stages import run_mode

    try:
        summary = run_mode(cfg)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except StepFailed as err:  # the step's traceback is above
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    return summary.get("success_rate")


if __name__ == "__main__":
    main()
