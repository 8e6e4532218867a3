#!/bin/sh
# Entrypoint of the Asterisk image (docker/asterisk.Dockerfile): write the local sandbox's
# configuration from the environment (docker/render_asterisk_conf.py), then start Asterisk, or
# run the command given instead (`docker compose run --rm asterisk bash`: configuration written,
# Asterisk not started).
set -eu

instance=${ASTERISK_INSTANCE_DIR:-/var/lib/sticky-router/docker}

python3 /opt/sticky-router/docker/render_asterisk_conf.py --instance "$instance" --owner asterisk

# A plain `asterisk -rx '...'` (docker compose exec asterisk ...) reads the default
# /etc/asterisk/asterisk.conf: make that the instance's, so it finds this Asterisk's control
# socket. Nothing else in the package's /etc/asterisk is read (astetcdir is $instance/etc).
ln -sfn "$instance/etc/asterisk.conf" /etc/asterisk/asterisk.conf

if [ "$#" -eq 0 ]; then
  # -f: stay in the foreground as the container's main process; -n: no colour codes in the
  # container's log; -U/-G: run as the package's `asterisk` user once started (the sandbox runs
  # it as root inside its chroot; a container does not need to).
  set -- asterisk -f -n -U asterisk -G asterisk -C "$instance/etc/asterisk.conf"
fi
exec "$@"
