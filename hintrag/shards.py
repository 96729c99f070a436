"""Sharding a split's episodes over jobs: `shard=i num_shards=n` plays episodes i, i+n, i+2n, ...

Shards of one run share its folder (the key ignores sharding) but each appends to its own file,
`trajectories.shard<i>of<n>.jsonl`, so no two processes write the same file. Readers take every
`trajectories*.jsonl` of the folder. `num_shards=n` without `shard` merges: it plays nothing,
checks that every shard finished, and names the ones that did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from omegaconf import DictConfig

from hintrag.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int | None  # None with count > 1: merge the shards
    count: int

    @property
    def merging(self) -> bool:
        return self.count > 1 and self.index is None

    def suffix(self) -> str:
        """What a shard adds to the names of the files (and the lock) it writes alone; a merge writes
        the whole run's metrics.json, as an unsharded run does, so it adds nothing."""
        return "" if self.count == 1 or self.merging else f".shard{self.index}of{self.count}"

    def select(self, items: Sequence[T]) -> list[T]:
        return list(items) if self.count == 1 else list(items[self.index :: self.count])


def shard_of(cfg: DictConfig) -> Shard:
    count, index = cfg.num_shards, cfg.shard
    if not isinstance(count, int) or count < 1:
        raise ConfigError(f"num_shards={count!r} must be a whole number >= 1")
    if index is not None and (not isinstance(index, int) or not 0 <= index < count):
        raise ConfigError(f"shard={index!r} must be in 0..{count - 1} (num_shards={count}), or unset to merge")
    return Shard(index, count) if count > 1 else Shard(0, 1)


def missing(ids: Sequence[str], finished: set[str], count: int) -> list[int]:
    """Shards with at least one episode not finished."""
    return [i for i in range(count) if any(e not in finished for e in ids[i::count])]
