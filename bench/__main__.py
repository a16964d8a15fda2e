"""Run the benchmarks and print one `{"name", "value", "unit"}` JSON object per line."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import traceback

import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    args = parser.parse_args(argv)
    modules = [m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")]
    chosen = args.names or sorted(modules)
    failed = 0
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
            for m in module.run():
                print(json.dumps(m), flush=True)
        except Exception:
            failed += 1
            print(f"benchmark {name} failed:", file=sys.stderr)
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
