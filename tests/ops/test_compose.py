"""docker-compose.yml, checked by a real Compose implementation (`config` needs no engine),
and the Dockerfile/.env.sample that go with it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.conftest import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = {"timescaledb", "params-init", "bot", "optimizer", "drift-monitor", "grafana", "adminer"}
PAPER_ONLY = {"exchange-sim"}
REQUIRED = (
    "POSTGRES_PASSWORD",
    "COINCHECK_API_KEY",
    "COINCHECK_API_SECRET",
    "GRAFANA_ADMIN_PASSWORD",
)


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) when it works, else Debian's docker-compose."""
    if shutil.which("docker"):
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if ok.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


COMPOSE = _compose_command()
needs_compose = pytest.mark.skipif(
    COMPOSE is None,
    reason="no Compose implementation: apt-get install docker-compose (CI installs it)",
)


def _sample_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / ".env.sample").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def _config(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    assert COMPOSE is not None
    return subprocess.run(
        [*COMPOSE, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *extra, "config"],
        cwd=ROOT,
        # Only the env file speaks: nothing from the developer's shell or ./.env leaks in.
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if COMPOSE is None:
        pytest.skip("no Compose implementation: apt-get install docker-compose")
    result = _config(tmp_path_factory.mktemp("compose"), _sample_env(), "--profile", "paper")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@needs_compose
def test_compose_renders_every_service(rendered: dict) -> None:
    assert set(rendered["services"]) == SERVICES | PAPER_ONLY
    assert {"timescaledb_data", "params_volume"} <= set(rendered["volumes"])
    assert rendered["volumes"]["timescaledb_data"].get("name") == "timescaledb_data"
    assert rendered["volumes"]["params_volume"].get("name") == "params_volume"


@needs_compose
def test_every_service_has_healthcheck_restart_and_log_rotation(rendered: dict) -> None:
    for name, svc in rendered["services"].items():
        assert svc.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        assert svc["logging"]["driver"] == "json-file", name
        assert svc["logging"]["options"]["max-size"], name
        expected = "no" if name == "params-init" else "unless-stopped"
        assert svc.get("restart", "no") == expected, name
    assert "/health" in " ".join(rendered["services"]["bot"]["healthcheck"]["test"])


@needs_compose
def test_bot_waits_for_database_and_params(rendered: dict) -> None:
    for name in ("bot", "optimizer", "drift-monitor"):
        deps = rendered["services"][name]["depends_on"]
        assert deps["timescaledb"]["condition"] == "service_healthy", name
        assert deps["params-init"]["condition"] == "service_completed_successfully", name
    params = "/data/params/trade_config.yaml"
    for name in ("bot", "optimizer", "drift-monitor", "params-init"):
        svc = rendered["services"][name]
        assert svc["environment"]["PARAMS_PATH"] == params, name
        assert any(v.startswith("params_volume:/data/params") for v in _volumes(svc)), name
    assert any(
        v.startswith("obi_bot_state:/data/state") or v.startswith("bot_state:/data/state")
        for v in _volumes(rendered["services"]["bot"])
    )


def _volumes(svc: dict) -> list[str]:
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, dict):
            out.append(f"{v['source']}:{v['target']}")
        else:
            out.append(v)
    return out


def _ports(svc: dict) -> list[str]:
    out = []
    for p in svc.get("ports", []):
        if isinstance(p, dict):
            out.append(f"{p.get('host_ip', '')}:{p.get('published')}:{p['target']}")
        else:
            out.append(str(p))
    return out


@needs_compose
def test_ports_are_bound_to_loopback(rendered: dict) -> None:
    published = {}
    for name, svc in rendered["services"].items():
        for p in _ports(svc):
            assert p.startswith("127.0.0.1:"), f"{name} publishes {p} on every interface"
            published[name] = p
    assert published["grafana"].startswith("127.0.0.1:3000:3000")
    assert published["adminer"].startswith("127.0.0.1:8888:8080")
    assert published["bot"].startswith("127.0.0.1:8080:8080")


@needs_compose
def test_optimizer_can_scale(rendered: dict) -> None:
    svc = rendered["services"]["optimizer"]
    assert "container_name" not in svc and not svc.get("ports")


@needs_compose
def test_monitor_needs_only_database_and_grafana(rendered: dict) -> None:
    """`docker compose up -d timescaledb grafana` (make monitor) starts those two only."""
    assert set(rendered["services"]["grafana"]["depends_on"]) == {"timescaledb"}
    assert not rendered["services"]["timescaledb"].get("depends_on")


@needs_compose
def test_exchange_simulator_only_in_paper_profile(tmp_path: Path) -> None:
    env = {k: v for k, v in _sample_env().items() if k != "COMPOSE_PROFILES"}
    result = _config(tmp_path, env)
    assert result.returncode == 0, result.stderr
    services = set(yaml.safe_load(result.stdout)["services"])
    # docker-compose 1.x renders profiled services anyway; v2 leaves them out.
    assert SERVICES <= services <= SERVICES | PAPER_ONLY


@needs_compose
@pytest.mark.parametrize("missing", REQUIRED)
def test_missing_required_variable_is_named(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in _sample_env().items() if k != missing}
    result = _config(tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr, result.stderr
    assert "is not set" in result.stderr


# --------------------------------------------------------------------------- static checks
def test_no_secret_in_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    for line in text.splitlines():
        m = re.match(r"\s*(\w*(PASSWORD|SECRET|API_KEY)\w*):\s*(\S.*)$", line)
        if m:
            assert m.group(3).startswith("${") and ":?" in m.group(3), line
    sample = _sample_env()
    for key in REQUIRED:
        assert sample[key] not in text, f"the sample value of {key} is written in the compose file"


def test_env_sample_documents_every_variable() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    sample = _sample_env()
    assert used <= set(sample), f"not in .env.sample: {sorted(used - set(sample))}"
    for key in REQUIRED:
        assert sample[key], f".env.sample must give a placeholder for {key}"


def test_dockerfile_is_multistage_non_root_and_migrates_on_start() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M)
    assert len(stages) >= 2, "multi-stage build expected"
    assert "requirements.lock" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the runtime must not run as root"
    assert not re.search(r"^(ENV|ARG)\s+.*(PASSWORD|SECRET|API_KEY)", text, re.M)
    # Every COPY source exists and is let through .dockerignore.
    ignore = (ROOT / ".dockerignore").read_text()
    for src in re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+)\s", text, re.M):
        if src.startswith("/") or src.endswith("./"):
            continue
        for part in src.split():
            assert (ROOT / part).exists(), f"COPY {part}: missing"
            assert f"!{part}" in ignore or f"!{part}/" in ignore, f".dockerignore drops {part}"
    entry = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert "python -m bot db migrate" in entry and 'exec "$@"' in entry
    assert os.access(ROOT / "docker" / "entrypoint.sh", os.X_OK)
