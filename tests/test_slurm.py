"""Against a real SLURM controller: the one-node cluster of scripts/slurm_local.sh (CI starts it).

Skipped with the reason where no cluster answers, unless HINTRAG_REQUIRE_SLURM is set (CI), where
a missing cluster fails. Every wait is bounded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

START = "scripts/slurm_local.sh start, then export SLURM_CONF=/tmp/hintrag-slurm/etc/slurm.conf"


def _cluster_answers() -> str | None:
    if shutil.which("sbatch") is None:
        return f"sbatch is not installed; {START}"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    return None if ping.returncode == 0 and "UP" in ping.stdout else f"no SLURM controller answers; {START}"


_missing = _cluster_answers()
if _missing and os.environ.get("HINTRAG_REQUIRE_SLURM"):
    raise RuntimeError(f"HINTRAG_REQUIRE_SLURM is set but {_missing}")
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")


def sacct_state(job: str) -> str:
    out = subprocess.run(["sacct", "-n", "-X", "-j", job, "-o", "State"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def wait_state(job: str, wanted: str, limit_s: float = 60) -> str:
    deadline = time.monotonic() + limit_s
    state = ""
    while time.monotonic() < deadline:
        state = sacct_state(job)
        if state.startswith(wanted):
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job} is {state!r} after {limit_s}s, not {wanted}")


def test_a_job_runs_and_accounting_records_it(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    job = subprocess.run(["sbatch", "--parsable", "-o", str(out), "--wrap", "echo ran on $SLURM_JOB_NODELIST"],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert wait_state(job, "COMPLETED").startswith("COMPLETED")
    assert out.read_text().startswith("ran on ")


def test_a_cancelled_job_shows_as_cancelled_at_once(tmp_path: Path) -> None:
    job = subprocess.run(["sbatch", "--parsable", "-o", str(tmp_path / "out.txt"), "--wrap", "sleep 120"],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    wait_state(job, "RUNNING")
    subprocess.run(["scancel", job], check=True, timeout=30)
    assert wait_state(job, "CANCELLED", limit_s=15).startswith("CANCELLED")


def test_a_job_asking_for_more_than_the_node_has_fails_at_once() -> None:
    too_many = str((os.cpu_count() or 1) * 4)
    proc = subprocess.run(["sbatch", f"--cpus-per-task={too_many}", "--wrap", "true"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode != 0 and "More processors requested than permitted" in proc.stderr


def test_submitit_runs_a_function_and_reads_back_its_result(tmp_path: Path) -> None:
    import operator

    import submitit

    executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
    executor.update_parameters(timeout_min=5, cpus_per_task=1, slurm_mem_per_cpu="512M")
    job = executor.submit(operator.mul, 6, 7)  # importable where the job runs, unlike a test function
    assert job.result() == 42
    wait_state(job.job_id, "COMPLETED")  # accounting records the end a moment after the result file


def test_a_hydra_sweep_runs_as_slurm_jobs_asking_only_for_what_was_set(tmp_path: Path, tiny_model_dir: Path,
                                                                       alfworld_data: Path) -> None:
    """`python run.py -m hydra/launcher=slurm ...`: one SLURM job per point; the job script carries
    cluster.* as given and no GPU, partition or account that nobody asked for."""
    import sys

    from conftest import ROOT, tiny_overrides

    args = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "mode=rollout", "n_episodes=1", "max_steps=1",
            "hydra/launcher=slurm", "cluster.mem_gb=2", "cluster.cpus=1", "cluster.timeout_min=10", "seed=0,1"]
    proc = subprocess.run([sys.executable, "run.py", "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "rollout").iterdir())) == 2  # seeds 0 and 1, one run each
    scripts = list((tmp_path / "hydra" / "multirun").glob("*/*/.submitit/*/*_submission.sh"))
    text = "\n".join(p.read_text() for p in scripts)
    assert scripts and "#SBATCH --mem=2GB" in text and "#SBATCH --cpus-per-task=1" in text
    assert not any(flag in text for flag in ("--gpus-per-node", "--partition", "--account"))


# --- the project's sweeps as SLURM jobs -----------------------------------------------------------

SLURM = ["hydra/launcher=slurm", "cluster.mem_gb=2", "cluster.cpus=1", "cluster.timeout_min=10"]


def sweep(args: list[str], timeout_s: float = 600) -> subprocess.CompletedProcess:
    import sys

    from conftest import ROOT

    return subprocess.run([sys.executable, "run.py", "-m", *SLURM, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout_s)


def job_ids(root: Path) -> list[str]:
    """The SLURM jobs of the sweeps under a run store, from their submitit folders."""
    names = {p.name for p in root.glob("hydra/multirun/*/*/.submitit/*") if p.is_dir()}
    arrays = {n.split("_")[0] for n in names if "_" in n}  # an array's own folder holds its script
    return sorted(names - arrays)  # 7, or 7_0 and 7_1 in an array


def records(folder: Path) -> list[dict]:
    """A run's trajectories (all its shards' files) without their timings, in episode order."""
    import json

    from hintrag.stagegraph import TRAJECTORY_FILES

    out = []
    for line in "".join(p.read_text() for p in sorted(folder.glob(TRAJECTORY_FILES))).splitlines():
        rec = json.loads(line)
        rec.pop("wall_s", None)
        out.append(rec)
    return sorted(out, key=lambda r: r["episode_id"])


def only_run(root: Path, stage: str, part: str = "") -> Path:
    (found,) = [p for p in (root / stage).iterdir() if part in p.name]
    return found


@pytest.fixture(scope="module")
def embedded_chain(tmp_path_factory: pytest.TempPathFactory, alfworld_data: Path):
    """Stage A on one train game and Stage B with the embedded model; the bank is then set to known
    hints so that k=1 and k=3 retrieve different ones."""
    from conftest import make_cfg, write_bank

    from hintrag.envs.alfworld import TASK_TYPES
    from hintrag.stages import run_mode

    root = tmp_path_factory.mktemp("store")
    base = [f"env.data_dir={alfworld_data}", f"store.root={root}", "max_steps=2", "agent.max_new_tokens=16",
            "hints.max_new_tokens=48", "retrieval=tfidf"]
    run_mode(make_cfg(*base, "mode=rollout", "split=train", "n_episodes=1"))
    extract = run_mode(make_cfg(*base, "mode=extract"))
    write_bank(Path(extract["run"]), list(TASK_TYPES))
    return root, base


def test_a_teacher_sweep_runs_as_two_slurm_jobs_sharing_stage_a_and_the_bank(embedded_chain, tmp_path: Path) -> None:
    """`-m hydra/launcher=slurm mode=teacher k=1,3` with the embedded model: two jobs, one Stage A
    and one bank between them, and records equal to the same teachers run here."""
    import shutil as sh

    from conftest import make_cfg

    from hintrag.stages import run_mode

    root, base = embedded_chain
    upstream = {s: sorted(p.name for p in (root / s).iterdir()) for s in ("rollout", "extract")}
    started = time.monotonic()
    proc = sweep([*base, "mode=teacher", "k=1,3", "split=valid_unseen", "n_episodes=1"])
    print(f"2-job teacher sweep on SLURM: {time.monotonic() - started:.1f}s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_ids(root)
    assert len(jobs) == 2 and all(wait_state(j, "COMPLETED", 30) for j in jobs)  # accounting lags a little
    assert {s: sorted(p.name for p in (root / s).iterdir()) for s in ("rollout", "extract")} == upstream
    local = tmp_path / "local"
    sh.copytree(root, local, ignore=sh.ignore_patterns("teacher", "hydra"))  # Stage A, the bank, the store's marker
    for k in (1, 3):
        mine = run_mode(make_cfg(*base, f"store.root={local}", "mode=teacher", f"k={k}", "split=valid_unseen",
                                 "n_episodes=1"))
        assert records(Path(mine["run"])) == records(root / "teacher" / Path(mine["run"]).name)


def test_a_shard_sweep_then_the_merge_equals_one_unsharded_run(tmp_path: Path, tiny_model_dir: Path,
                                                             alfworld_data: Path) -> None:
    from conftest import make_cfg, tiny_overrides

    from hintrag.stages import run_mode

    base = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path / "sharded"), "mode=rollout", "n_episodes=3",
            "max_steps=2"]
    proc = sweep([*base, "shard=0,1", "num_shards=2"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(job_ids(tmp_path / "sharded")) == 2
    merged = run_mode(make_cfg(*base, "num_shards=2"))
    assert merged["n_episodes"] == 3
    whole = run_mode(make_cfg(*base, f"store.root={tmp_path / 'whole'}"))
    assert records(Path(merged["run"])) == records(Path(whole["run"]))


def _running_job(root: Path, limit_s: float = 120) -> str:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        jobs = job_ids(root)
        if jobs and sacct_state(jobs[0]).startswith("RUNNING"):
            return jobs[0]
        time.sleep(0.5)
    raise AssertionError(f"no sweep job running after {limit_s}s")


def _popen_sweep(args: list[str]) -> subprocess.Popen:
    import sys

    from conftest import ROOT

    return subprocess.Popen([sys.executable, "run.py", "-m", *SLURM, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_preempted_job_is_requeued_and_its_stage_resumes(tmp_path: Path, tiny_model_dir: Path,
                                                          alfworld_data: Path) -> None:
    """`scancel --signal=USR2` (what a preemption sends) while episodes are being written: submitit
    requeues the job, the rollout resumes, and every episode is there exactly once, as in a run
    that was never stopped."""
    from conftest import make_cfg, tiny_overrides

    from hintrag.stages import run_mode

    base = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path / "slurm"), "mode=rollout", "n_episodes=6",
            "max_steps=30", "batch_size=1"]
    proc = _popen_sweep([*base, "seed=0"])
    try:
        job = _running_job(tmp_path / "slurm")
        out = tmp_path / "slurm" / "rollout"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(p.stat().st_size for p in out.glob("*/trajectories.jsonl")):
            time.sleep(0.2)
        done_before = len(next(out.glob("*/trajectories.jsonl")).read_text().splitlines())
        signalled, at = time.monotonic(), time.time()
        subprocess.run(["scancel", "--signal=USR2", job], check=True, timeout=30)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    assert done_before < 6
    shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, timeout=30).stdout
    assert re.search(r"Restarts=[12]\b", shown), shown
    restarted = datetime.fromisoformat(re.search(r"StartTime=(\S+)", shown).group(1)).timestamp()
    print(f"preempted after {done_before} of 6 episodes; the requeued job started {restarted - at:.0f}s after the "
          f"signal (whole seconds); signal to the sweep's end {time.monotonic() - signalled:.1f}s")
    whole = run_mode(make_cfg(*base, f"store.root={tmp_path / 'whole'}"))
    assert records(only_run(tmp_path / "slurm", "rollout")) == records(Path(whole["run"]))


def test_a_cancelled_job_fails_the_sweep_naming_the_job(tmp_path: Path, tiny_model_dir: Path,
                                                       alfworld_data: Path) -> None:
    from conftest import tiny_overrides

    args = [*tiny_overrides(tiny_model_dir, alfworld_data, tmp_path), "mode=rollout", "n_episodes=20", "max_steps=50",
            "batch_size=1", "seed=0"]
    proc = _popen_sweep(args)
    try:
        job = _running_job(tmp_path)
        subprocess.run(["scancel", job], check=True, timeout=30)
        stdout, stderr = proc.communicate(timeout=120)  # it fails; it does not wait forever
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert re.search(rf"Job {job} .*\n.*state: CANCELLED", stderr), stderr[-3000:]  # submitit names the job
