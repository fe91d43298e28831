# syntax=docker/dockerfile:1
#
# Preflab images. One Dockerfile, two final targets:
#
#   web  - FastAPI app; also runs the CPU Celery worker (queue "default")
#   gpu  - same app plus torch/transformers/TRL for the GPU worker (queue "gpu")
#
#   docker build --target web -t preflab-web .
#   docker build --target gpu -t preflab-gpu .
#
# docker-compose.yml builds both; see there for the commands each service runs.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim


# ---------------------------------------------------------------------------
# vendor: front-end packages from npm (htmx, swagger-ui-dist ...) -> static/vendor/
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS vendor
WORKDIR /build
COPY package.json package-lock.json ./
# No package we vendor needs an install script; refusing them keeps the build
# from running arbitrary code from the registry.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/copy-vendor.mjs scripts/
RUN mkdir -p static/vendor && node scripts/copy-vendor.mjs


# ---------------------------------------------------------------------------
# source: the application tree exactly as it will sit in /srv/preflab.
# Assembled once so both final targets copy the same files.
# ---------------------------------------------------------------------------
FROM scratch AS source
WORKDIR /srv/preflab
COPY pyproject.toml README.md alembic.ini ./
COPY app/ app/
COPY mlcore/ mlcore/
COPY workers/ workers/
COPY migrations/ migrations/
COPY templates/ templates/
COPY static/ static/
# static/vendor is in .dockerignore, so this is the only copy of it.
COPY --from=vendor /build/static/vendor/ static/vendor/


# ---------------------------------------------------------------------------
# base: Python runtime, unprivileged user, data directory
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS base

# PYTHONPATH puts the source tree ahead of site-packages for every entry point
# (uvicorn, celery and the `preflab` console script alike), so the code that
# runs is the copy that sits next to templates/, static/, migrations/ and
# alembic.ini. Bytecode is compiled at build time (the tree is read-only for
# the runtime user), hence PYTHONDONTWRITEBYTECODE.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/srv/preflab \
    PREFLAB_DATA_DIR=/data

# Fixed uid/gid so files on the data volume keep a stable owner across rebuilds.
# /data is created here, owned by preflab, so a fresh named volume mounted on it
# inherits that ownership. (No VOLUME instruction: compose mounts a named
# volume, and VOLUME would leave anonymous volumes behind on `docker run`.)
RUN groupadd --system --gid 10001 preflab \
 && useradd --system --uid 10001 --gid preflab --create-home \
        --home-dir /home/preflab --shell /usr/sbin/nologin preflab \
 && install -d -o preflab -g preflab -m 0750 /data

WORKDIR /srv/preflab

# Dependencies are installed from pyproject.toml alone, before the source is
# copied, so a code change rebuilds only the last small layers. This helper
# prints [project].dependencies plus the optional-dependency groups named on
# the command line, one requirement per line, for `pip install -r`.
COPY <<'EOF' /opt/preflab-build/requirements.py
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)["project"]
extras = project.get("optional-dependencies", {})
for requirement in project["dependencies"] + [r for group in sys.argv[2:] for r in extras[group]]:
    print(requirement)
EOF


# ---------------------------------------------------------------------------
# web: API + pages (uvicorn) and the CPU worker (celery -Q default)
# ---------------------------------------------------------------------------
FROM base AS web

COPY pyproject.toml /tmp/pyproject.toml
RUN python /opt/preflab-build/requirements.py /tmp/pyproject.toml > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt /tmp/pyproject.toml

COPY --from=source /srv/preflab/ ./
# --no-deps: everything was installed above. This adds the package metadata and
# the `preflab` console script; the in-tree build leftovers are removed.
RUN pip install --no-deps . \
 && rm -rf build preflab.egg-info \
 && python -m compileall -q app mlcore workers migrations

USER preflab
EXPOSE 8000
# compose runs `preflab migrate` first; see docker-compose.yml. --no-proxy-headers: uvicorn would believe
# X-Forwarded-For from loopback; the app reads it from PREFLAB_TRUSTED_PROXIES only. PREFLAB_WEB_PROCESSES is
# the number of uvicorn workers below: each one checks that all of them fit the database's max_connections.
ENV PREFLAB_WEB_PROCESSES=4
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "4", "--no-proxy-headers"]


# ---------------------------------------------------------------------------
# gpu: the GPU worker (celery -Q gpu)
# ---------------------------------------------------------------------------
# No CUDA base image is needed: torch wheels from PyPI (Linux x86_64) carry the
# CUDA runtime as nvidia-* wheels; only the driver comes from the host, through
# the NVIDIA Container Toolkit (see deploy.resources in docker-compose.yml).
FROM base AS gpu

# torch gets its own layer, before pyproject.toml is copied, so the multi-GB
# layer survives edits to the dependency list. Keep TORCH_VERSION equal to the
# pin in the `train` extra; if they drift, the next step reinstalls torch.
# TORCH_INDEX_URL may point at a PyTorch wheel index for a different CUDA
# build, e.g. https://download.pytorch.org/whl/cu126; empty means PyPI.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==${TORCH_VERSION}"

COPY pyproject.toml /tmp/pyproject.toml
RUN python /opt/preflab-build/requirements.py /tmp/pyproject.toml train > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt /tmp/pyproject.toml

COPY --from=source /srv/preflab/ ./
RUN pip install --no-deps . \
 && rm -rf build preflab.egg-info \
 && python -m compileall -q app mlcore workers migrations

# Containers started with a GPU device request get the compute libraries
# (libcuda) and nvidia-smi mounted in. Hugging Face downloads (base models,
# tokenizers) go to the shared data volume so they survive restarts.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HF_HOME=/data/huggingface

USER preflab
CMD ["celery", "-A", "workers.celery_app", "worker", "-Q", "gpu", "--concurrency", "1", \
     "--prefetch-multiplier", "1", "--loglevel", "INFO"]
