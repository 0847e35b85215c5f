"""What the figures were measured on: the machine and the versions of every part."""

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from bench.servers import venv_tool

PACKAGES = ("pyoxigraph", "oxigraph", "rdflib", "flask", "gunicorn", "pyshacl", "rdflib-endpoint")


def machine() -> dict[str, str]:
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": f"{_memory_total_kib() / 1024 / 1024:.1f} GiB",
        "kernel": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["oxigraph server"] = _command_version([venv_tool("oxigraph"), "--version"])
    found["nginx"] = _command_version(["nginx", "-v"]) if shutil.which("nginx") else "not available"
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _command_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].split()[-1].split("/")[-1] if text else "unknown"
