"""``python -m bench --quick|--full``: run the benchmark and write its Markdown report.

The report goes to ``bench/results/<timestamp>.md`` (and ``bench/results/latest.md``); generated
graphs are kept in ``bench/results/work/data`` and reused by later runs with the same sizes.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from bench.report import render
from bench.runner import FULL, QUICK, run

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    plan = FULL if args.full else QUICK
    if args.sizes:
        plan = dataclasses.replace(plan, sizes=tuple(args.sizes))
    if args.validate_max is not None:
        plan = dataclasses.replace(plan, validate_max=args.validate_max)
    results = run(plan, args.results / "work", say)
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    report = render(results, command.strip())
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(report, encoding="utf-8")
    (args.results / "latest.md").write_text(report, encoding="utf-8")
    say(f"report: {path}")
    return 0


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="10³ and 10⁴ triples (the default).")
    mode.add_argument("--full", action="store_true", help="10³ to 10⁶ triples, --store-dir at 10⁶.")
    parser.add_argument("--sizes", type=int, nargs="+", help="Sizes to run instead of the mode's.")
    parser.add_argument(
        "--validate-max",
        type=int,
        metavar="TRIPLES",
        help="Largest size to validate with SHACL (default: 10⁵; with --full, 10⁶, a few minutes).",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="Where reports go.")
    return parser.parse_args(argv)


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
