"""Concurrency admission, O(1) per invocation.

A function with reserved concurrency runs only within its reservation; every other
function shares the account's unreserved pool (the limit minus all reservations). The sum
of reservations is cached and recomputed only after a reservation changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from lamina.control.function_model import Function
from lamina.errors import TooManyRequestsException

Account = tuple[str, str]


class Slot:
    __slots__ = ("function", "account")

    def __init__(self, function: tuple[str, str, str], account: Account | None) -> None:
        self.function = function
        self.account = account  # set when the slot came from the unreserved pool


class ConcurrencyLimiter:
    def __init__(self, limit: int, reserved_total: Callable[[str, str], int]) -> None:
        self.limit = limit
        self._reserved_total = reserved_total
        self._reserved_cache: dict[Account, int] = {}
        self.function_in_use: dict[tuple[str, str, str], int] = defaultdict(int)
        self.unreserved_in_use: dict[Account, int] = defaultdict(int)
        # Told of every freed slot: (function key, account it frees unreserved capacity in).
        self.on_release: list[Callable[[tuple[str, str, str], Account | None], None]] = []

    def reservations_changed(self, *_: object) -> None:
        self._reserved_cache.clear()

    def acquire(self, function: Function) -> Slot:
        key = function.key
        reserved = function.reserved_concurrency
        if reserved is not None:
            if self.function_in_use[key] >= reserved:
                raise TooManyRequestsException("Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded")
            self.function_in_use[key] += 1
            return Slot(key, None)
        account = (function.account_id, function.region)
        total = self._reserved_cache.get(account)
        if total is None:
            total = self._reserved_cache[account] = self._reserved_total(*account)
        if self.unreserved_in_use[account] >= self.limit - total:
            raise TooManyRequestsException("Rate Exceeded.", "ConcurrentInvocationLimitExceeded")
        self.unreserved_in_use[account] += 1
        self.function_in_use[key] += 1
        return Slot(key, account)

    def release(self, slot: Slot, *, notify: bool = True) -> None:
        """Free `slot`; `notify=False` when nothing ran in it (the host throttled it): waking
        throttled work then would only send it into the same wall."""
        self.function_in_use[slot.function] -= 1
        if slot.account is not None:
            self.unreserved_in_use[slot.account] -= 1
        if notify:
            for listener in self.on_release:
                listener(slot.function, slot.account)
