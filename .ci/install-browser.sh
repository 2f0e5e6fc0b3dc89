#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (tests/e2e). Playwright's own
# browser download cannot work offline, so the tests drive this binary instead.
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ ! -x "$CHROMIUM" ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        SUDO=sudo
    else
        SUDO=
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    # fonts-dejavu-core: text renders legibly in screenshots on a bare machine.
    $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# The Debian wrapper script prints a harmless shell warning on some machines; keep it out.
"$CHROMIUM" --version 2>/dev/null
