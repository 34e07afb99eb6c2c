# syntax=docker/dockerfile:1
# GovID image (issue 21): `docker build -t govid .`, then see compose.yaml.
#
# Two stages. `build` has a compiler, installs the dependencies from requirements.lock
# (pinned, every file's sha256 checked: --require-hashes) into /opt/govid and builds
# GovID's own wheel; the final stage is python:3.11-slim with that virtualenv copied in,
# no compiler, no pip cache, running as an unprivileged user.
#
# requirements.lock is made from pyproject.toml (docs/operations.md, "Dependencies"):
#   pip-compile --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
#     --index-url https://pypi.org/simple --output-file requirements.lock pyproject.toml

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libffi-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/govid
WORKDIR /src
COPY requirements.lock ./
RUN /opt/govid/bin/pip install --require-hashes --no-deps -r requirements.lock

# argon2id is most of a sign-in's CPU (issue 5). PyPI's argon2-cffi-bindings wheel (what
# the lock installs above) is built for SSE2 and runs on any x86-64 CPU, which an image
# must: it may be pulled onto hosts we have never seen, and an AVX2 build dies with
# SIGILL on a CPU without AVX2. So the default stays PyPI's wheel; at start-up GovID times
# it against libsodium (PyNaCl) and uses the faster (idp/credentials/passwords.py), so the
# default costs some speed, never correctness. A site whose hosts all have AVX2 builds
# with --build-arg ARGON2_AVX2=1: the same release is rebuilt here from its sdist (hash
# checked from the lock) with -mavx2, as `make argon2-avx2` does for a VM (~10 ms instead
# of ~18 ms per hash measured there).
ARG ARGON2_AVX2=0
RUN if [ "$ARGON2_AVX2" = "1" ]; then \
        awk '/^argon2-cffi-bindings==/{p=1;print;next} p&&/^ /{print;next} {p=0}' \
            requirements.lock > /tmp/argon2.txt \
        && CFLAGS="-O3 -mavx2" /opt/govid/bin/pip install --require-hashes --no-deps \
            --force-reinstall --no-binary argon2-cffi-bindings -r /tmp/argon2.txt; \
    fi

COPY pyproject.toml README.md ./
COPY idp ./idp
COPY admin_ui ./admin_ui
RUN /opt/govid/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/govid/bin/pip install --no-deps /wheels/*.whl \
    && /opt/govid/bin/idp --help >/dev/null


FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="GovID" \
      org.opencontainers.image.description="OpenID Connect identity provider"
RUN groupadd --system --gid 10001 govid \
    && useradd --system --uid 10001 --gid govid --home-dir /var/lib/govid \
        --create-home --shell /usr/sbin/nologin govid
COPY --from=build /opt/govid /opt/govid
ENV PATH=/opt/govid/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IDP_HOST=0.0.0.0 \
    IDP_PORT=8000 \
    IDP_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/govid
# 8000: the service (behind the TLS proxy); 9100: /metrics when IDP_METRICS_PORT=9100.
EXPOSE 8000 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["idp"]
CMD ["serve"]
