#!/bin/bash
# run.sh old|new: one benchmark run of the BirdCar build in $BIN_DIR-old
# or $BIN_DIR-new (default /tmp/bin-…: go build -o /tmp/bin-new/
# ./cmd/birdcar ./cmd/fakebird ./cmd/birdcar-load), with the database
# references measured in the same run: pgbench -S at 16 and 64 clients and
# one INSERT per commit at 16, on BirdCar's own private cluster. Uses ports
# 8080 and 8081. Output in /tmp/bench-$1/; sum.sh /tmp/bench-$1 condenses it.
set -u
V=$1
BIN=${BIN_DIR:-/tmp/bin}-$V
LOAD=${BIN_DIR:-/tmp/bin}-new/birdcar-load
OUT=/tmp/bench-$V; rm -rf "$OUT"; mkdir -p "$OUT"
DATA=/tmp/benchdata-$V; rm -rf "$DATA"
TOKEN=loadtest-token-0123456789
CPU=$(dirname "$0")/cpu.sh

"$BIN/fakebird" -addr 127.0.0.1:8081 > "$OUT/fake.log" 2>&1 & FAKE=$!
PORT=8080 API_TOKENS=$TOKEN MESSAGEBIRD_API_KEY=test_key MESSAGEBIRD_BASE_URL=http://127.0.0.1:8081 ALLOW_UNSIGNED_WEBHOOKS=1 \
  BIRDCAR_DATA_DIR=$DATA ADMIN_PASSWORD=bench-password LOG_FORMAT=json "$BIN/birdcar" > "$OUT/birdcar.log" 2>&1 & BC=$!
for i in $(seq 1 600); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.1; done
PGPORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$OUT/birdcar.log" | head -1 | sed 's/.*://')
DB="postgres://birdcar:$(cat "$DATA/postgres-password")@127.0.0.1:$PGPORT"
echo "pg port $PGPORT" | tee "$OUT/summary.txt"

# measure LABEL CMD...: runs CMD, records wall time and the CPU of
# Postgres, BirdCar and the load generator while it ran.
measure() {
  local label=$1; shift
  read -r pg0 bc0 < <($CPU '^postgres$' '^birdcar$' | paste -sd' ')
  local t0=$(date +%s.%N)
  local TIMEFORMAT='%U %S'
  { time "$@" > "$OUT/$label.out" 2>&1 ; } 2> "$OUT/$label.time"
  local t1=$(date +%s.%N)
  read -r pg1 bc1 < <($CPU '^postgres$' '^birdcar$' | paste -sd' ')
  read -r lu ls < "$OUT/$label.time"
  local wall=$(echo "$t1 - $t0" | bc)
  printf '%s: wall %.1fs CPU%% postgres %.0f birdcar %.0f load %.0f\n' "$label" "$wall" \
    "$(echo "($pg1-$pg0)/$wall" | bc -l)" "$(echo "($bc1-$bc0)/$wall" | bc -l)" "$(echo "100*($lu+$ls)/$wall" | bc -l)" | tee -a "$OUT/summary.txt"
}

psql -q "$DB/birdcar" -c 'CREATE DATABASE ref' >/dev/null
pgbench -q -i -s 10 "$DB/ref" > "$OUT/pgbench-init.out" 2>&1
psql -q "$DB/ref" -c 'CREATE TABLE ins (id bigserial PRIMARY KEY, v int NOT NULL)' >/dev/null
printf '\\set v random(1, 1000000)\nINSERT INTO ins (v) VALUES (:v);\n' > "$OUT/ins.sql"
for c in 16 64; do
  measure "ref-select-c$c" pgbench -n -S -c $c -j 2 -T 10 "$DB/ref"
  grep -E '^tps' "$OUT/ref-select-c$c.out" | tee -a "$OUT/summary.txt"
done
measure ref-insert-c16 pgbench -n -f "$OUT/ins.sql" -c 16 -j 2 -T 10 "$DB/ref"
grep -E '^tps' "$OUT/ref-insert-c16.out" | tee -a "$OUT/summary.txt"

measure voice-load "$LOAD" -token $TOKEN -fake http://127.0.0.1:8081 -mode voice -concurrency 64 -duration 10s
ROUTE=$(psql -tA "$DB/birdcar" -c "SELECT ltrim(r.caller_phone, '+') || ' ' || ltrim(p.number, '+') FROM routes r JOIN proxy_numbers p ON p.id = r.proxy_number_id WHERE upper_inf(r.valid) LIMIT 1")
set -- $ROUTE
measure voice-wrk wrk -t2 -c64 -d10s --latency "http://127.0.0.1:8080/webhook-voice?source=$1&destination=$2&callID=x"
measure sms-200 "$LOAD" -token $TOKEN -fake http://127.0.0.1:8081 -mode sms -rate 200 -duration 15s
measure sms-3000 "$LOAD" -token $TOKEN -fake http://127.0.0.1:8081 -mode sms -rate 3000 -duration 10s -drain 60s

kill $BC; wait $BC 2>/dev/null; kill $FAKE; wait $FAKE 2>/dev/null
echo done | tee -a "$OUT/summary.txt"
