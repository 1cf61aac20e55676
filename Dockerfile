# CleudoCode orchestrator (REST API, submit socket, SQLite state) and the cleudo CLI.
#
#   docker build -t cleudocode .          (or: docker compose build, scripts/setup.sh)
#
# Two stages: a builder with the -dev packages runs `make all`; the runtime has
# only the shared libraries and the two stripped binaries. Layers go from what
# changes least to what changes most (packages, then Makefile and headers, then
# sources), so editing a .c file rebuilds only the last layers.
# The builder stage is the same, instruction for instruction, as the one in
# Dockerfile.sandbox, so building both images compiles the sources once.

FROM debian:bookworm-slim AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc make pkg-config libc6-dev \
        libzmq3-dev libczmq-dev libmsgpack-dev libmicrohttpd-dev \
        libsqlite3-dev libjansson-dev libseccomp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Exactly what `make all` reads; never `COPY . .` (see .dockerignore too).
COPY Makefile ./
COPY common/ common/
COPY proto/ proto/
COPY services/ services/
COPY cli/ cli/
COPY tools/ tools/
ARG MAKE_JOBS=2
RUN make -j"${MAKE_JOBS}" all \
 && install -d /out \
 && install -s -m 0755 build/orchestrator build/agent-sandbox build/cleudo /out/

FROM debian:bookworm-slim
# Runtime libraries only: no compiler, no headers, no apt lists.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libzmq5 libczmq4 libmsgpackc2 libmicrohttpd12 \
        libsqlite3-0 libjansson4 libseccomp2 \
 && rm -rf /var/lib/apt/lists/*
# Group 10000 is shared with the agent-sandbox image (sandbox_io/ is group-owned);
# uid 10000 here, 10001 there.
RUN groupadd --gid 10000 cleudo \
 && useradd --uid 10000 --gid 10000 --no-create-home --home-dir /srv/cleudo \
        --shell /usr/sbin/nologin cleudo \
 && install -d -o 10000 -g 10000 -m 0750 /srv/cleudo /srv/cleudo/data \
        /srv/cleudo/exports /srv/cleudo/uploads \
 && install -d -o 10000 -g 10000 -m 2770 /srv/cleudo/sandbox_io
COPY --from=builder /out/orchestrator /out/cleudo /usr/local/bin/
WORKDIR /srv/cleudo
# Inside the container every socket listens on all of its interfaces; what
# reaches them is decided by docker-compose.yml (ports on 127.0.0.1 for HTTP
# and submit only; the worker link sits on an internal network).
ENV LANG=C.UTF-8 \
    ORCH_HTTP_ADDR=0.0.0.0:8080 \
    ORCH_SUBMIT_ENDPOINT=tcp://0.0.0.0:5555 \
    ORCH_TASKS_ENDPOINT=tcp://0.0.0.0:5557 \
    ORCH_RESULTS_ENDPOINT=tcp://0.0.0.0:5558 \
    ORCH_CONTROL_ENDPOINT=tcp://0.0.0.0:5559 \
    ORCH_DATA_DIR=/srv/cleudo/data \
    CLEUDO_ENDPOINT=tcp://127.0.0.1:5555
USER 10000:10000
EXPOSE 8080 5555 5557 5558 5559
# GET /healthz (no token) on the port of ORCH_HTTP_ADDR, with bash's /dev/tcp:
# no curl in the image.
HEALTHCHECK --interval=5s --timeout=3s --retries=6 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\"${ORCH_HTTP_ADDR##*:}\" && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 2 proto code _ <&3 && [ \"$code\" = 200 ]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/orchestrator"]
