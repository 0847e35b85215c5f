"""`communique reload`: ask a running ``communique serve`` to reload its data.

It sends SIGHUP to the process named in the server's pid file (``serve --pid-file``). The server
builds and validates the new version off to the side and swaps it in only if it conforms; the
outcome is in the server's log, at ``/readyz`` and in ``/metrics`` (``communique_reloads_total``).
"""

import argparse
import os
import signal
import sys
from pathlib import Path

from communique.errors import CommuniqueError
from communique.settings import Settings


def add_reload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pid-file",
        metavar="FILE",
        help="The pid file `communique serve --pid-file` writes (default: $COMMUNIQUE_PID_FILE).",
    )


def run_reload(args: argparse.Namespace) -> int:
    pid_file = args.pid_file or Settings.from_mapping().pid_file
    if not pid_file:
        raise CommuniqueError(
            "which server? give --pid-file, the file `communique serve --pid-file` writes"
        )
    pid = request_reload(Path(pid_file))
    print(
        f"communique: asked process {pid} to reload its data; its log and /readyz tell the outcome",
        file=sys.stderr,
    )
    return 0


def request_reload(pid_file: Path) -> int:
    """Send SIGHUP to the server whose process id `pid_file` holds; returns that id.

    :raises CommuniqueError: no readable pid file, no such process, or not a communique one.
    """
    try:
        text = pid_file.read_text().strip()
    except OSError as error:
        raise CommuniqueError(f"{pid_file}: cannot read the pid file: {error.strerror}") from None
    if not text.isdigit() or int(text) <= 1:
        raise CommuniqueError(f"{pid_file}: not a pid file (it holds {text[:20]!r})")
    pid = int(text)
    if not _is_communique(pid):
        raise CommuniqueError(
            f"{pid_file}: process {pid} is not a communique server (a stale pid file?)"
        )
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise CommuniqueError(
            f"{pid_file}: no process {pid} is running (a stale pid file?)"
        ) from None
    except PermissionError:
        raise CommuniqueError(f"{pid_file}: not allowed to signal process {pid}") from None
    return pid


def _is_communique(pid: int) -> bool:
    """False when the process's command line does not name communique (a pid file left by a
    crash may name a process that reused the id); True when it cannot be read."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"communique" in command
