"""`python -m codegen [--check]`: regenerate `generated/` from `spec/`, or check it is current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.build import ROOT, build, stale, write


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming the files when generated/ differs from the spec",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the project folder (default: this checkout)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    expected = build(root)
    if args.check:
        problems = stale(expected, root)
        if problems:
            print(
                "generated/ is not what spec/ produces; run `python -m codegen`:", file=sys.stderr
            )
            for item in problems:
                print(f"  {item}", file=sys.stderr)
            return 1
        print(f"generated/ is current ({len(expected)} files)")
        return 0
    changed = write(expected, root)
    print(f"wrote generated/ ({len(expected)} files, {len(changed)} changed)")
    for item in changed:
        print(f"  {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
