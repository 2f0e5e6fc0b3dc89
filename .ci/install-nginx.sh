#!/usr/bin/env bash
# Installs Debian's nginx for the replica tests (tests/deploy): two `citeline serve`
# processes behind the config in deploy/nginx/. The tests start nginx themselves as
# the current user, so the package's own service is stopped and left disabled.
# Idempotent: does nothing when nginx is already there.
set -euo pipefail

NGINX=/usr/sbin/nginx

if [[ ! -x "$NGINX" ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        SUDO=sudo
    else
        SUDO=
    fi
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d answering 101: the package must not start a system nginx on port 80.
    POLICY=/usr/sbin/policy-rc.d
    OURS=
    if [[ ! -e "$POLICY" ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
        $SUDO chmod +x "$POLICY"
        OURS=1
    fi
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
    if [[ -n "$OURS" ]]; then
        $SUDO rm -f "$POLICY"
    fi
fi

"$NGINX" -v 2>&1
