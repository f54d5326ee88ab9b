# fakecomfy: a fake ComfyUI server on port 8188 (README.md, "Docker").
#   docker build -t fakecomfy .
#   docker run --rm -p 8188:8188 fakecomfy
# The base is pinned by its exact version; to pin it byte for byte as well, append the digest
# `docker buildx imagetools inspect python:3.11.14-slim-bookworm` prints, e.g.
#   python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
# tests/test_docker.py checks these rules and runs the entrypoint and healthcheck below.

# ---- build: the wheel of this checkout, installed into a venv ---------------------------------
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
# Only what the wheel is made of: the tests, fixtures, bench and tools stay out of every stage.
COPY pyproject.toml README.md ./
COPY fakecomfy ./fakecomfy
RUN python -m pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels . \
    && python -m venv /opt/fakecomfy \
    && /opt/fakecomfy/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --find-links=/wheels \
       fakecomfy

# ---- the image: the venv holding the installed wheel, and nothing else -----------------------
# (Copying the venv needs no BuildKit feature, so any builder, docker-py's included, builds it.)
FROM python:3.11.14-slim-bookworm
COPY --from=build /opt/fakecomfy /opt/fakecomfy
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin fakecomfy \
    && mkdir /data \
    && chown fakecomfy:fakecomfy /data

# Every setting comes from a FAKECOMFY_* variable (README, "The CLI"); override them with -e.
# /data is the ComfyUI base directory (input/, output/, temp/, user/, models/<folder>/); the
# first start fills it with the example image and stand-in models when it is empty.
ENV PATH=/opt/fakecomfy/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    FAKECOMFY_BASE_DIRECTORY=/data \
    FAKECOMFY_PORT=8188 \
    FAKECOMFY_POPULATE_DEFAULTS=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER 10001:10001
WORKDIR /data
EXPOSE 8188
# The image's own Python (its venv's, first on PATH), no curl; it follows FAKECOMFY_PORT. The first
# check runs one interval after the start (Docker 25's --start-interval would shorten that, but
# older engines and other builders refuse the flag).
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/system_stats' % os.environ.get('FAKECOMFY_PORT', '8188'), timeout=2)"]
# Arguments after the image name are further `fakecomfy serve` flags (--node-time KSampler=0.5).
ENTRYPOINT ["fakecomfy", "serve", "--listen", "0.0.0.0"]
CMD []
