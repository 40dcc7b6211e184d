#!/bin/sh
# Installs Debian's prometheus package (promtool and the server) when promtool is missing: the
# rule tests and the end-to-end test need them, and CI starts on a machine with nothing.
set -eu
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo -n"; fi
$as_root apt-get update -qq
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package enables a service; where systemd runs it would hold :9090. The tests start their own.
if [ -d /run/systemd/system ]; then
  $as_root systemctl disable --now prometheus 2>/dev/null || true
fi
command -v promtool >/dev/null 2>&1
