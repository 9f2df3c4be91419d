# One image for `ambient serve`, `ambient worker` and the CLI.
#   docker build -t ambient .
#   docker run -e AMBIENT_WEBHOOK_SECRET=… -e AMBIENT_REDIS_URL=redis://redis:6379/0 -p 8000:8000 ambient
#   docker run … ambient worker
# The worker runs sandboxes through a Docker engine (mount its socket, or use Docker-in-Docker
# or a rootless engine); see docs/installation.md.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY agents ./agents
COPY sandbox ./sandbox
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# git for workspaces; the docker CLI for the Docker sandbox backend; bubblewrap for the other.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git docker.io bubblewrap ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels ambient && rm -rf /wheels
RUN useradd --create-home --uid 10001 ambient
USER ambient
WORKDIR /home/ambient
ENV AMBIENT_WORKSPACE_ROOT=/home/ambient/workspaces PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"
ENTRYPOINT ["ambient"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
