"""`python -m conformance`: a full conformance run against a freshly started local server."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from conformance.run import Plan, run_all
from conformance.target import LocalTarget


def main(argv: list[str] | None = None) -> int:
    """Start a server over a fresh SQLite file, run everything, print the report."""
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    parser.add_argument("--seed", type=int, default=1, help="the run's random seed")
    parser.add_argument("--quick", action="store_true", help="the bounded budget of the test suite")
    parser.add_argument("--verbose", action="store_true", help="log the server's warnings")
    args = parser.parse_args(argv)
    # The server logs every refused payload and injected fault: noise in a report.
    logging.basicConfig(level=logging.WARNING)
    if not args.verbose:
        logging.disable(logging.ERROR)
    plan = Plan() if args.quick else Plan.full(args.seed)
    with tempfile.TemporaryDirectory(prefix="zizany-conformance-") as tmp:
        target = LocalTarget(Path(tmp)).start()
        try:
            outcome = run_all(target, plan, log=lambda line: print(line, flush=True))
        finally:
            target.stop()
    print()
    print(outcome.report())
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
