#!/usr/bin/env bash
# Install the Debian packages the interop tests talk to: swaks, Postfix (smtp-source, smtp-sink
# and a relaying MTA), redis-server and HAProxy (a load balancer speaking PROXY protocol).
# Postfix is preseeded to "No configuration", so the system instance is never set up or
# started; the tests run their own instances of everything.
set -euo pipefail
need=()
command -v swaks >/dev/null || need+=(swaks)
{ command -v postfix || test -x /usr/sbin/postfix; } >/dev/null 2>&1 || need+=(postfix)
{ command -v smtp-sink || test -x /usr/sbin/smtp-sink; } >/dev/null 2>&1 || need+=(postfix)
command -v redis-server >/dev/null || need+=(redis-server)
{ command -v haproxy || test -x /usr/sbin/haproxy; } >/dev/null 2>&1 || need+=(haproxy)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: missing ${need[*]}; run as root, or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "install-peers: installing ${need[*]}"
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swaks postfix redis-server haproxy >/dev/null
