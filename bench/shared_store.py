"""How much of an in-memory pyoxigraph store a forked process copies by reading it.

``python -m bench.shared_store DATA.nq`` loads DATA into an in-memory store, forks a child (as
Communiqué forks its query workers from the process that loaded the store), runs a 10-row lookup
and then a scan in the child, and prints JSON: the store's private memory in the parent, and the
child's private memory (``Private_Dirty``, MiB) before the queries and after each one. The child
evaluates in a thread of its own, as a query worker does, so that the query's own memory comes
from a fresh malloc arena and what grows is copies of the store's pages: pyoxigraph's in-memory
store writes as it reads (reference counts of the entries a query visits).
"""

import json
import os
import re
import sys
import threading
from pathlib import Path

import pyoxigraph as ox

QUERIES = {
    "lookup": "SELECT * WHERE { ?s ?p ?o } LIMIT 10",
    "scan": "SELECT ?class (COUNT(*) AS ?n) WHERE { ?s a ?class } GROUP BY ?class",
}
_PRIVATE_DIRTY = re.compile(r"^Private_Dirty:\s+(\d+) kB", re.MULTILINE)


def private_mib() -> float:
    """This process's private dirty memory, in MiB."""
    rollup = Path("/proc/self/smaps_rollup").read_text()
    return int(_PRIVATE_DIRTY.search(rollup).group(1)) / 1024


def measure(data: Path) -> dict[str, float]:
    store = ox.Store()
    store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
    figures = {"parent_after_load": private_mib()}
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reading)
        code = 1
        try:
            os.write(writing, json.dumps(_copied_by_queries(store)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        figures.update(json.loads(pipe.read() or "{}"))
    os.waitpid(pid, 0)
    return figures


def _copied_by_queries(store: ox.Store) -> dict[str, float]:
    figures = {"child_before": private_mib()}

    def run() -> None:
        for name, text in QUERIES.items():
            for _ in store.query(text, use_default_graph_as_union=True):
                pass
            figures[f"child_after_{name}"] = private_mib()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return figures


def main() -> int:
    print(json.dumps(measure(Path(sys.argv[1])), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
