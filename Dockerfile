# One image for `ambient serve`, `ambient worker` and the CLI; it runs as uid 10001.
#
#   docker build -t ambient .                  # with a container registry and a package index
#   scripts/build-image.sh                     # offline: a local Debian base and host-built wheels
#   docker run -e AMBIENT_WEBHOOK_SECRET=… -e AMBIENT_REDIS_URL=redis://redis:6379/0 -p 8000:8000 ambient
#   docker run … ambient worker                # needs a Docker engine: see docs/operations.md
#   docker run --rm ambient config check FILE  # any other `ambient` command
#
# Build arguments:
#   PYTHON_IMAGE      a Debian-based image with python3 (3.11 or later) and its venv module
#   DOCKER_CLI_IMAGE  an image holding the docker CLI at /usr/local/bin/docker; the worker starts
#                     its sandboxes through it (the engine itself is never in this image)
# When the build context holds dist/wheels/*.whl, every Python package comes from there and no
# package index is asked (how scripts/build-image.sh builds where no index is reachable).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG DOCKER_CLI_IMAGE=docker:27-cli

FROM ${DOCKER_CLI_IMAGE} AS docker-cli

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# The bracket makes dist/ optional: a normal checkout has none. Dependencies go first, in their
# own layer, so a change to the source alone does not download them again.
COPY pyproject.toml dis[t] ./
RUN set -eu; \
    if ls wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links=/src/wheels; fi; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > requirements.txt; \
    python3 -m venv /opt/ambient; \
    /opt/ambient/bin/pip install --no-cache-dir --disable-pip-version-check --quiet "$@" \
        -r requirements.txt
# What the package is built from is what .dockerignore lets in (its allowlist).
COPY . ./
# pip and setuptools stay behind in this stage: the runtime installs nothing.
RUN set -eu; \
    if ls wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links=/src/wheels; fi; \
    /opt/ambient/bin/pip install --no-cache-dir --disable-pip-version-check --quiet "$@" \
        --no-deps . ; \
    /opt/ambient/bin/python -m pip uninstall --yes --quiet pip setuptools
COPY deploy/healthcheck.py /opt/ambient/healthcheck.py

FROM ${PYTHON_IMAGE}
# git clones workspaces, tini reaps what git and docker leave behind (PID 1), bubblewrap is the
# other sandbox backend, tinyproxy and socat are the environment setup's allowlisting proxy and
# its relay. Only what the base lacks is installed: an offline base has them all.
ARG SYSTEM_PACKAGES="git ca-certificates tini bubblewrap tinyproxy socat"
RUN set -eu; \
    missing=""; \
    for package in $SYSTEM_PACKAGES; do \
        dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' \
            || missing="$missing $package"; \
    done; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        apt-get install --yes --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid 10001 ambient; \
    useradd --system --uid 10001 --gid 10001 --home-dir /home/ambient --create-home \
        --shell /usr/sbin/nologin ambient; \
    install --directory --owner ambient --group ambient --mode 0750 /var/lib/ambient \
        /var/lib/ambient/workspaces
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=build /opt/ambient /opt/ambient
ENV PATH=/opt/ambient/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    AMBIENT_WORKSPACE_ROOT=/var/lib/ambient/workspaces
USER 10001:10001
WORKDIR /home/ambient
EXPOSE 8000
# /healthz for `serve`, a Redis PING for `worker`, healthy for other commands: deploy/healthcheck.py.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/opt/ambient/bin/python", "/opt/ambient/healthcheck.py"]
# A worker that is stopped puts its running jobs back on the queue (see docs/operations.md).
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "ambient"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
