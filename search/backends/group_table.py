"""Translation group ids as a backend stores them: only paragraphs that are not alone.

Every paragraph has a group id; a paragraph alone is its own group (id = its pid), and is not
stored. Backends that keep the table whole per generation (local, in-memory) share this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence


def carried_forward(previous: Mapping[int, int], removed: Iterable[int],
                    changed: Mapping[int, int]) -> dict[int, int]:
    """The next generation's table: the previous one without removed paragraphs, with the
    changes, and without paragraphs that are their own group."""
    table = dict(previous)
    for pid in removed:
        table.pop(int(pid), None)
    table.update(changed)
    return {pid: group for pid, group in table.items() if pid != group}


class GroupTable:
    """Lookups over one generation's table."""

    def __init__(self, stored: Mapping[int, int]) -> None:
        self._group = dict(stored)
        self._members: dict[int, list[int]] = {}
        for pid, group in sorted(self._group.items()):
            self._members.setdefault(group, []).append(pid)

    def __len__(self) -> int:
        return len(self._group)

    def items(self) -> Iterable[tuple[int, int]]:
        return self._group.items()

    def groups(self, pids: Sequence[int]) -> list[int]:
        return [self._group.get(int(pid), int(pid)) for pid in pids]

    def members(self, group_ids: Sequence[int],
                live: Callable[[int], bool]) -> dict[int, list[int]]:
        """The members of each group; `live` says whether a pid is in the generation (a
        group's own id is a member when that paragraph is live and not in another group)."""
        found: dict[int, list[int]] = {}
        for group in (int(g) for g in group_ids):
            pids = list(self._members.get(group, ()))
            if group not in self._group and live(group):
                pids.append(group)
            found[group] = sorted(pids)
        return found
