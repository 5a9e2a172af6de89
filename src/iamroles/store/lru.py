"""A bounded least-recently-used map, safe to share between threads.

Every cache of the service (the store's rows, compiled policy sets, resolved
keys and session tokens) is one of these: full, it drops its least recently
used entry, one at a time, instead of emptying itself (a cache emptied at its
cap costs every client a miss at once, and until then holds all it ever saw).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LRU"]

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries; ``on_evict(key, value)`` is told of each entry dropped for room (under the lock)."""

    def __init__(self, size: int, on_evict: Callable[[K, V], None] | None = None) -> None:
        if size < 1:
            raise ValueError("an LRU holds one entry at least")
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._on_evict = on_evict
        self.hits = 0  # lookups that found an entry, and those that did not (the server's metrics read them)
        self.misses = 0

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            try:
                self._data.move_to_end(key)
            except KeyError:
                self.misses += 1
                return default
            self.hits += 1
            return self._data[key]

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                old_key, old_value = self._data.popitem(last=False)
                if self._on_evict is not None:
                    self._on_evict(old_key, old_value)

    def pop(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            return self._data.pop(key, default)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
