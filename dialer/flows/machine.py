"""One small state machine: a state and a ``(state, input) -> (state, effects)`` table (pure).

The call flow's sub-machines (:mod:`dialer.flows.amd`, :mod:`dialer.flows.bot`,
:mod:`dialer.flows.queue`) are each an enum of states, an enum of inputs, an enum of effects
(what the owner must do) and one table. :meth:`Machine.fire` is the only way to change the
state and raises :class:`~dialer.errors.IllegalTransition` for a pair not in the table, as
``exotel_sim/legs.py`` and ``gateway/protocol.py`` do.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

from dialer.errors import IllegalTransition

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741
E = TypeVar("E", bound=enum.Enum)


class Machine(Generic[S, I, E]):
    """A named machine: its current ``state`` and its table."""

    __slots__ = ("_table", "name", "state")

    def __init__(self, name: str, table: Mapping[tuple[S, I], tuple[S, tuple[E, ...]]],
                 state: S) -> None:
        self.name = name
        self.state = state
        self._table = table

    def accepts(self, item: I) -> bool:
        """Would ``item`` be legal in the current state?"""
        return (self.state, item) in self._table

    def fire(self, item: I) -> tuple[E, ...]:
        """Take ``item``: move to the table's next state, return its effects, in order."""
        try:
            nxt, effects = self._table[(self.state, item)]
        except KeyError:
            raise IllegalTransition(
                f"{self.name} machine in state {self.state.value} cannot take {item.value}"
            ) from None
        self.state = nxt
        return effects
