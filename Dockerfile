# syntax=docker/dockerfile:1
# One image for every Handoff service; the command picks the actor:
#   docker run IMAGE generator | collector | topology apply | ...     (ENTRYPOINT is the `handoff` command)
# Build: docker build -t handoff:local .

ARG PYTHON_IMAGE=python:3.12-slim

# ---- build: a virtual environment with Handoff and its dependencies -----------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# dependencies first, in their own layer: source edits do not reinstall them. The constraints file pins every
# package to the version the test suite passed with, so the image is the tested set.
COPY pyproject.toml README.md ./
COPY .ci/constraints.txt ./constraints.txt
# the image runs the services: the client's dependencies plus the generator extra (the agent stack)
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['generator']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt
COPY schemas ./schemas
COPY services ./services
RUN pip install --no-deps -c constraints.txt ".[generator]" \
    && handoff --help > /dev/null

# ---- runtime: the environment, git for task workspaces, bubblewrap for the task sandbox, tini to reap the
# agents' child processes --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends git tini bubblewrap \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 handoff \
    && useradd --system --uid 10001 --gid handoff --home-dir /home/handoff --create-home \
        --shell /usr/sbin/nologin handoff \
    && mkdir -p /var/lib/handoff/work \
    && chown -R handoff:handoff /var/lib/handoff
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/handoff \
    LOG_AUTO_CONFIG=false \
    OPENHANDS_SUPPRESS_BANNER=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    HANDOFF_DATA_DIR=/var/lib/handoff \
    HANDOFF_WORK_DIR=/var/lib/handoff/work \
    HANDOFF_HEALTH_PORT=8080 \
    HANDOFF_LOG_FORMAT=json
WORKDIR /var/lib/handoff
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HANDOFF_HEALTH_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["tini", "--", "handoff"]
CMD ["generator"]
