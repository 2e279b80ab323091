"""Write one generated `placement-instance/1` document: ``python -m benchmarks.generate
20000 > instance.json``. The generator is :mod:`placement.matching.synthetic`."""

from __future__ import annotations

import argparse
import json
import sys

from placement.matching.synthetic import generate

__all__ = ["generate", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trainees", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    json.dump(generate(args.trainees, seed=args.seed), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
