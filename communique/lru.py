"""A least-recently-used cache bounded by the bytes its entries hold, safe to share between threads.

The caller says how many bytes an entry holds when it stores it (`LruCache.put`); an entry larger
than `max_entry_bytes` is not kept, and storing one that brings the total over `max_bytes`
evicts the least recently used entries first. A cache of 0 bytes keeps nothing.

>>> cache = LruCache(max_bytes=10, max_entry_bytes=6)
>>> cache.put("a", "first", 5), cache.put("b", "second", 5), cache.put("c", "too big", 7)
(True, True, False)
>>> cache.get("a"), len(cache)
('first', 2)
>>> cache.put("d", "third", 4)
True
>>> cache.get("b"), cache.get("a"), cache.total_bytes
(None, 'first', 9)
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """Entries kept while their sizes sum to at most `max_bytes`, least recently used out first."""

    def __init__(self, max_bytes: int, max_entry_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self.total_bytes = 0
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, default: V | None = None) -> V | None:
        """The value stored under `key` (now the most recently used), or `default`."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return default
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, size: int) -> bool:
        """Store `value`, which holds `size` bytes, replacing what `key` held; False when it is
        larger than `max_entry_bytes` (it is then not kept, and neither is the old value)."""
        with self._lock:
            replaced = self._entries.pop(key, None)
            if replaced is not None:
                self.total_bytes -= replaced[1]
            if size > self.max_entry_bytes:
                return False
            self._entries[key] = (value, size)
            self.total_bytes += size
            while self.total_bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.total_bytes -= evicted
            return True
