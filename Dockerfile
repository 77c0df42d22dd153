# TokensGate production image. docs/deployment.md explains how to run it.
#
#   docker build -t tokensgate .
#   docker run -p 8000:8000 -e SECRET_KEY=... -e ENVIRONMENT=production tokensgate
#
# The command (bin/serve) applies migrations, then runs uvicorn with one worker
# per core. Set MIGRATE_ON_START=false where a separate job migrates (several
# replicas on one database: see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Dependencies first, so code changes do not reinstall them. Every wheel used
# is prebuilt for this platform: no compiler is needed.
RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# A system user without a login shell owns nothing but the SQLite folder (the
# embedded default); the code stays read-only to it.
RUN useradd --system --uid 10001 --user-group --home-dir /app \
        --shell /usr/sbin/nologin tokensgate \
    && mkdir -p /app/var \
    && chown tokensgate:tokensgate /app/var
USER tokensgate

ENV HOST=0.0.0.0 \
    PORT=8000 \
    SQLITE_PATH=/app/var/db.sqlite3
EXPOSE 8000

# /health answers 200 whenever this process can serve, Redis outage included.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bin/healthcheck"]

# Docker sends SIGTERM on stop; uvicorn then drains in-flight requests and
# streams for up to GRACEFUL_TIMEOUT seconds (keep the stop timeout above it).
STOPSIGNAL SIGTERM
CMD ["bin/serve"]
