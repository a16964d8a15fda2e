# syntax=docker/dockerfile:1
# One image for every Python service (bot, optimizer, drift-monitor, exchange-sim):
# `docker compose` picks the command. Dependencies come from requirements.lock; no secret is
# baked in (everything sensitive arrives through the environment from .env at run time).

ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

# --------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml requirements.lock ./
# Only the runtime dependencies of pyproject.toml, each pinned by the lock (the lock also holds
# the dev tools: pytest, ruff, ccxt... which stay out of the image).
# Byte-code is compiled here, once: the runtime's user cannot write to /opt/venv.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > runtime.txt \
 && pip install -r runtime.txt -c requirements.lock \
 && rm -rf /opt/venv/lib/python3.11/site-packages/scipy/*/tests \
           /opt/venv/lib/python3.11/site-packages/scipy/*/*/tests \
           /opt/venv/lib/python3.11/site-packages/numpy/*/tests

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="obi-scalp-bot" \
      org.opencontainers.image.description="Coincheck BTC/JPY scalper: bot, optimizer, drift monitor"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARAMS_PATH=/data/params/trade_config.yaml
# No curl: healthchecks use python's urllib. A non-root user with a fixed uid owns /data, so
# fresh named volumes mounted there (params_volume, bot state) are writable by it.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
      --shell /usr/sbin/nologin app \
 && mkdir -p /data/params /data/state \
 && chown -R app:app /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code runs from /app (not site-packages): migrations (db/migrations) and the templates
# (config/) are found relative to the package, as in a checkout.
COPY --chown=root:root bot ./bot
COPY --chown=root:root optimizer ./optimizer
COPY --chown=root:root drift_monitor ./drift_monitor
COPY --chown=root:root db ./db
COPY --chown=root:root config ./config
COPY --chown=root:root docker/entrypoint.sh /usr/local/bin/entrypoint.sh
# app_config.yaml's relative paths (var/state, var/nonce, var/spill) land in /data/state, the
# bot's persistent volume.
RUN ln -s /data/state /app/var \
 && chmod 0755 /usr/local/bin/entrypoint.sh \
 && python -m compileall -q /app/bot /app/optimizer /app/drift_monitor
USER app
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["python", "-m", "bot", "run"]
