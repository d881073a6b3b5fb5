# syntax=docker/dockerfile:1
# One image for every role (web, worker, beat, migrate, collectstatic, the poller Lambda): see
# deploy/entrypoint.sh. Build: docker build -t callmcp . ; run: docker run callmcp web
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- build: the dependencies in a virtualenv (compilers and caches stay in this stage) ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Pinned versions (deploy/requirements.txt, resolved from pyproject.toml): the same image every build.
# The application itself runs from /app (templates and static files with it), not site-packages.
COPY deploy/requirements.txt ./
RUN pip install --no-cache-dir --requirement requirements.txt && python -m compileall -q /opt/venv

# --- runtime: the virtualenv, the application, an unprivileged user ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="callmcp" \
      org.opencontainers.image.description="AI phone calls for AI agents over MCP (Django)"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    APP_DIR=/app \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    LOG_FORMAT=json \
    PORT=8000 \
    CALLMCP_ROLE=web
RUN groupadd --system --gid 10001 callmcp \
    && useradd --system --uid 10001 --gid callmcp --home-dir /app --no-create-home --shell /usr/sbin/nologin callmcp
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root manage.py ./
COPY --chown=root:root config ./config
COPY --chown=root:root users ./users
COPY --chown=root:root calls ./calls
COPY --chown=root:root mcp_gateway ./mcp_gateway
COPY --chown=root:root sheets_sync ./sheets_sync
COPY --chown=root:root deploy/lambda ./deploy/lambda
COPY --chown=root:root deploy/dbmove ./deploy/dbmove
COPY --chown=root:root --chmod=0755 deploy/entrypoint.sh ./deploy/entrypoint.sh
# Bytecode at build time: the root filesystem is read-only at run time (only /tmp is writable).
RUN python -m compileall -q /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/app/deploy/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
