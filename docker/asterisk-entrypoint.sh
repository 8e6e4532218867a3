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
  # The support queue has dynamic members, as the sandbox's: log the four demo agents in once
  # Asterisk answers on its control socket (in the background; Asterisk is the main process).
  (
    for _ in $(seq 1 60); do
      asterisk -rx "core show uptime" >/dev/null 2>&1 && break
      sleep 1
    done
    for agent in agent1 agent2 agent3 agent4; do
      asterisk -rx "queue add member PJSIP/$agent to support penalty 0 as $agent" >/dev/null 2>&1 || true
    done
  ) &
  # -f: stay in the foreground as the container's main process; -n: no colour codes in the
  # container's log; -U/-G: run as the package's `asterisk` user once started (the sandbox runs
  # it as root inside its chroot; a container does not need to).
  set -- asterisk -f -n -U asterisk -G asterisk -C "$instance/etc/asterisk.conf"
fi
exec "$@"
