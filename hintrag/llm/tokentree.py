"""Candidate answers as one token tree, so a ranking scores each shared prefix once.

A game's commands share their first tokens (`go to cabinet 1` ... `go to cabinet 12`, `take X
from Y` for every X in view): scored as separate rows, `go to` runs once per command. As a tree,
each distinct prefix is one position of a single forward pass; a position attends to the cached
prompt and to its own ancestors only (a 4D attention mask), at the position id its depth gives,
so it computes what it would in its own row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenTree:
    """Positions of the merged inputs: each one's token, parent (-1 for none) and depth, and for
    each answer the positions whose logits score its tokens, in order."""

    tokens: list[int]
    parents: list[int]
    depths: list[int]
    paths: list[list[int]]

    @classmethod
    def of(cls, last: int, answers: list[list[int]]) -> "TokenTree":
        """The tree of the inputs `[last] + answer[:-1]` of every answer: the logits at the position
        reached after `answer[:d]` score `answer[d]`."""
        tree = cls([], [], [], [])
        index: dict[tuple[int, ...], int] = {}
        for answer in answers:
            inputs = [last] + answer[:-1]
            path, parent = [], -1
            for depth in range(len(inputs)):
                key = tuple(inputs[: depth + 1])
                if key not in index:
                    index[key] = len(tree.tokens)
                    tree.tokens.append(inputs[depth])
                    tree.parents.append(parent)
                    tree.depths.append(depth)
                parent = index[key]
                path.append(parent)
            tree.paths.append(path)
        return tree

    def ancestry(self) -> list[list[bool]]:
        """visible[i][j]: position i may attend to position j (j is i or one of its ancestors)."""
        visible = []
        for i, parent in enumerate(self.parents):
            row = list(visible[parent]) if parent >= 0 else [False] * len(self.tokens)
            row[i] = True
            visible.append(row)
        return visible
