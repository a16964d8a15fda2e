"""The benchmarks' shared input: 24 h of synthetic market, generated once and kept in var/bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path("var/bench")


def synthetic_24h(seed: int = 1) -> Path:
    path = BENCH_DIR / f"synthetic_24h_seed{seed}.jsonl.gz"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.gz")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "synth",
                "--hours",
                "24",
                "--seed",
                str(seed),
                "--out",
                str(tmp),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tmp.rename(path)
    return path
