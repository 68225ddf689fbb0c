#!/usr/bin/env bash
# Load figure of the operator API's live-state query (docs/performance.md, "Operator API: state query"): embedded broker,
# throwaway PostgreSQL, `smstream run` with the API, SENSORS sensors ingested through POST /api/v1/readings, then
# `smstream load api-state` with CLIENTS concurrent clients for SECONDS. Prints the load tool's line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CLIENTS="${CLIENTS:-100}" SECONDS_MEASURED="${SECONDS_MEASURED:-20}" SENSORS="${SENSORS:-200}"
base=$((20000 + RANDOM % 20000)); http=$((base + 100))
work="$(mktemp -d)"; chmod 777 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; ./smstream db down --data-dir "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

./smstream broker --base-port "$base" >"$work/broker.log" 2>&1 & pids+=($!)
db="$(./smstream db up --data-dir "$work/pg" --port 0 | sed -n 's/^connection: //p')"
export SMSTREAM_BOOTSTRAP="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))" SMSTREAM_DATABASE="$db"
./smstream db migrate --database "$db" >/dev/null
./smstream run --http "127.0.0.1:$http" >"$work/engine.log" 2>&1 & pids+=($!)
key="$(./smstream apikey create --name perf --role operator --rate-limit 1000000 | sed -n 's/^key: //p')"
until curl -sf "http://127.0.0.1:$http/health/ready" >/dev/null; do sleep 0.5; done
sensors=()
for i in $(seq 1 "$SENSORS"); do
  sensors+=("perf-$i")
  curl -sf -o /dev/null -H "X-Api-Key: $key" -H "Content-Type: application/json" -X POST "http://127.0.0.1:$http/api/v1/readings" \
    -d "{\"sensor_id\":\"perf-$i\",\"ts\":$(date +%s000),\"value\":$i}"
done
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $key" "http://127.0.0.1:$http/api/v1/state/sensors/perf-$SENSORS")" = 200 ]; do sleep 0.5; done
./smstream load api-state --url "http://127.0.0.1:$http" --key "$key" --clients "$CLIENTS" --seconds "$SECONDS_MEASURED" --sensor "${sensors[@]}"
