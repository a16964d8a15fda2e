"""A stand-in for `docker compose` where no Docker engine runs: just enough of `ps`, `stop`,
`exec -T timescaledb ...` and `run ... params-init ...` for scripts/backup.sh and restore.sh.

The timescaledb container becomes the test PostgreSQL (POSTGRES_USER/POSTGRES_DB/PGHOST set as
the image sets them); params_volume becomes FAKE_PARAMS_DIR. Every call is appended to FAKE_LOG.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_LOG"], "a", encoding="utf-8") as log:
        log.write(" ".join(argv) + "\n")
    params = os.environ["FAKE_PARAMS_DIR"]
    env = dict(
        os.environ,
        POSTGRES_USER="postgres",
        POSTGRES_DB=os.environ["FAKE_PG_DB"],
        PGHOST=os.environ["FAKE_PG_HOST"],
        PATH=os.environ["FAKE_PG_BIN"] + os.pathsep + os.environ["PATH"],
    )
    command, *rest = argv
    if command == "ps":
        print("f00dfeed" if rest[-1] == "timescaledb" else "")
        return 0
    if command == "stop":
        return 0
    if command == "exec":
        flag, service, *cmd = rest
        assert flag == "-T" and service == "timescaledb", argv
        return subprocess.run(cmd, env=env, check=False).returncode
    if command == "run":
        i = rest.index("--entrypoint")
        entrypoint, service, *args = rest[i + 1 :]
        assert service == "params-init" and {"--rm", "--no-deps", "-T"} <= set(rest[:i]), argv
        args = [a.replace("/data/params", params) for a in args]
        return subprocess.run([entrypoint, *args], env=env, check=False).returncode
    print(f"fake compose: unsupported {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
