"""How pages reach the data from a web worker: this process's store handle, and a small cache.

An on-disk store (``--store-dir``) must not be used across ``fork()``: each gunicorn worker
opens its own read-only handle on first use (`store_for_this_process`). An in-memory or remote
store is used as it is.

`RenderCache` keeps recently built page contents per process, keyed by what they depend on (the
publication version among it), so a reload never serves stale content.
"""

import os
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from communique.lru import LruCache
from communique.store import EmbeddedStore, Store

T = TypeVar("T")

_handles: dict[tuple[int, str], Store] = {}
_handles_lock = threading.Lock()


def store_for_this_process(store: Store) -> Store:
    """A handle on `store` that is safe to use in the calling process."""
    if not isinstance(store, EmbeddedStore) or store.path is None:
        return store
    key = (os.getpid(), store.path)
    with _handles_lock:
        if key not in _handles:
            for stale in [k for k in _handles if k[0] != key[0] or k[1] != key[1]]:
                del _handles[stale]
            _handles[key] = store.reopened_for_this_process()
        return _handles[key]


class RenderCache(LruCache):
    """At most `size` recently built page contents, least recently used out first."""

    def __init__(self, size: int):
        super().__init__(max_bytes=size, max_entry_bytes=size)

    def get_or_build(self, key: Hashable, build: Callable[[], T]) -> T:
        """The cached value for `key`, built (outside the lock) when absent."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = build()
            self.put(key, value, 1)
        return value


_MISSING = object()
