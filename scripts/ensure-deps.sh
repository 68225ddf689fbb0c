#!/usr/bin/env bash
# Makes sure the system packages named on the command line are installed.
# As root it installs them with apt; otherwise it prints the exact command and fails.
# Known names: postgresql, kcat, prometheus, docker-compose, curl.
set -euo pipefail

missing=()
for dep in "$@"; do
  case "$dep" in
    postgresql) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql-15) ;;
    kcat) command -v kcat >/dev/null || missing+=(kcat) ;;
    prometheus) command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus) ;;
    docker-compose) command -v docker-compose >/dev/null || missing+=(docker-compose) ;;
    curl) command -v curl >/dev/null || missing+=(curl) ;;
    *) echo "ensure-deps: unknown dependency '$dep'" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "ensure-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
