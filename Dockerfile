# Berth as a container: the statically linked binary in an empty image.
#
# Nothing is compiled or downloaded here (the machine it is built on may have no registry):
# scripts/image.sh builds the static binary and hands `docker build` a context holding just
#   berth           the binary (RUSTFLAGS='-C target-feature=+crt-static', gnu target)
#   rootfs/tmp      an empty folder with mode 1777 (SQLite's temporary files)
#   rootfs/etc      passwd and group naming root and `berth` (65532)
#   data            an empty folder, becomes /data (owned by 65532, for a non-root run)
# so `scripts/image.sh` is the one command; see README "Running Berth as a container".
FROM scratch

COPY rootfs/ /
COPY --chown=65532:65532 data/ /data/
COPY berth /berth

ENV BERTH_DATA=/data \
    BERTH_BIND=0.0.0.0:9000 \
    BERTH_HEALTHCHECK_ADDR=127.0.0.1:9000

# Berth's state: SQLite database, settings, audit log. Mount a named volume or a host folder here
# so that a new container keeps the admin account and settings.
VOLUME /data
# 9000 is the web UI (HTTP); 9443 is reserved for the HTTPS listener.
EXPOSE 9000 9443

# The default user is root: the engine's socket (/var/run/docker.sock) is root:docker 0660 and the
# docker group's id differs from host to host, so no fixed non-root user could open it. Access to
# that socket is root on the host anyway, whatever user holds it. To run without root, pass the
# socket's group: `--user 65532:$(stat -c %g /var/run/docker.sock)` (or `--user 65532:65532` with
# -H tcp://… and no socket); /data is owned by 65532 so a fresh volume is writable by it.
USER 0:0

# The binary asks itself: GET /healthz on BERTH_HEALTHCHECK_ADDR, exit 0 on a 200 within 3 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/berth", "healthcheck"]

# `docker stop` sends SIGTERM: Berth finishes in-flight requests, ends its live streams and
# closes SQLite, well within the default 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/berth"]
