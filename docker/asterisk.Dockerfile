# Asterisk 22 configured exactly like the project's local sandbox, for docker/compose.yaml.
# Not used by CI (the tests run the sandbox itself: devkit/sandbox/asterisk.py).
#
# Build from the repository root, which is the build context:
#   docker build -f docker/asterisk.Dockerfile -t sticky-router-asterisk .
#
# Like the sandbox: Debian 12 has no Asterisk 22 and Debian unstable has, so this is Debian
# unstable's package, from the image's own apt sources. At every start the entrypoint writes the
# sandbox's configuration (the templates in devkit/sandbox/asterisk_conf/ and the
# project's dialplan/) from the environment: see docker/render_asterisk_conf.py for the
# variables. Everything Asterisk reads and writes is under $ASTERISK_INSTANCE_DIR; the package's
# stock /etc/asterisk is not read (only its indications.conf is copied, as the sandbox does).
#
# Networking: the configuration binds SIP, ARI and AMI to 127.0.0.1 as in the sandbox, so run the
# container on the host's network (`network_mode: host` in compose, `--network host` otherwise).

# A rolling tag by nature (unstable is where Asterisk 22 is). For a reproducible build, pin a
# dated tag of the same image (`sid-YYYYMMDD-slim`) or a digest.
FROM debian:sid-slim

# Exactly the sandbox's packages (ASTERISK_PACKAGES in devkit/sandbox/asterisk_root.py),
# without recommends as debootstrap installs them, plus python3 for the render step and
# espeak-ng and sox for the product's prompts.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        asterisk asterisk-modules asterisk-config python3 espeak-ng sox \
 && rm -rf /var/lib/apt/lists/* \
 && asterisk -V

# The render step reuses the sandbox's own module (standard library only) and templates, laid
# out as in a checkout so that it finds dialplan/ the same way.
COPY sticky_router/__init__.py /opt/sticky-router/sticky_router/
COPY sticky_router/ami/__init__.py sticky_router/ami/event_names.py \
     /opt/sticky-router/sticky_router/ami/
COPY sticky_router/process/__init__.py sticky_router/process/prompts.py \
     sticky_router/process/development_kit.py \
     /opt/sticky-router/sticky_router/process/
COPY devkit/__init__.py /opt/sticky-router/devkit/
COPY devkit/sandbox/__init__.py devkit/sandbox/asterisk.py devkit/sandbox/asterisk_config.py \
     devkit/sandbox/asterisk_root.py devkit/sandbox/ports.py \
     devkit/sandbox/postgres.py devkit/sandbox/debian.py \
     /opt/sticky-router/devkit/sandbox/
COPY devkit/sandbox/asterisk_conf/ \
     /opt/sticky-router/devkit/sandbox/asterisk_conf/
COPY dialplan/ /opt/sticky-router/dialplan/
COPY docker/render_asterisk_conf.py docker/asterisk-entrypoint.sh /opt/sticky-router/docker/

ENV ASTERISK_INSTANCE_DIR=/var/lib/sticky-router/docker \
    PYTHONDONTWRITEBYTECODE=1

# Fail the build, not the first start, when the module needs something the image lacks or a
# template has a placeholder the render step does not fill.
RUN STICKY_ARI_PASSWORD=build-check STICKY_AMI_PASSWORD=build-check STICKY_AGI_SECRET=build-check-agi-secret \
        python3 /opt/sticky-router/docker/render_asterisk_conf.py --instance /tmp/render-check \
 && test -s /tmp/render-check/etc/sticky-router-dialplan/sticky-router.conf \
 && rm -rf /tmp/render-check

# The product's prompts in English and Russian, as `sticky-router prompts` makes them; a
# recording mounted over sounds/<language>/sticky-router/ replaces them.
RUN python3 -I -S /opt/sticky-router/sticky_router/process/prompts.py --to /usr/share/asterisk/sounds \
 && test -s /usr/share/asterisk/sounds/ru/sticky-router/connecting-to-your-agent.wav

# Runs as root to write the configuration and hand it to the `asterisk` user; Asterisk itself
# drops to that user (-U/-G in the entrypoint). SIGTERM is Asterisk's fast shutdown.
ENTRYPOINT ["/bin/sh", "/opt/sticky-router/docker/asterisk-entrypoint.sh"]

# Healthy once fully booted (modules loaded, dialplan and ARI up); the router waits for it.
HEALTHCHECK --interval=5s --timeout=10s --start-period=60s --retries=3 CMD ["/bin/sh", "-c", \
    "asterisk -C \"$ASTERISK_INSTANCE_DIR/etc/asterisk.conf\" -rx 'core waitfullybooted' | grep -q 'fully booted'"]
