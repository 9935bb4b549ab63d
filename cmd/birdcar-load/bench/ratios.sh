#!/bin/bash
# ratios.sh [OUT]: one run of issue 15's measurements, each path beside its
# database reference measured in the same run, with the CPU split and
# BirdCar's memory. Builds are taken from $BIN (default /tmp/bin-new:
# go build -o /tmp/bin-new/ ./cmd/birdcar ./cmd/fakebird ./cmd/birdcar-load)
# and fwdlat from $FWDLAT (default /tmp/fwdlat: cd ../shared/tools/fwdlat &&
# go build -o /tmp/fwdlat .). Uses ports 8080-8082. Results in OUT (default
# /tmp/ratios), the summary in OUT/summary.txt.
#
#  1. Forward latency: a fresh BirdCar, fwdlat playing MessageBird; rides
#     are created and fwdlat starts sending within 30 s of the process
#     start (200/s, 600 warm-up, 2,000 measured).
#  2. A second BirdCar with the fake MessageBird: references on its own
#     cluster (pgbench -S at 16 and 64 clients, one INSERT per commit at 64),
#     then the voice webhook (load tool, 64 connections, every answer
#     checked; and wrk), then the SMS webhook saturated (3,000/s offered,
#     every acknowledged text forwarded exactly once, counted).
set -u
BIN=${BIN:-/tmp/bin-new}
FWDLAT=${FWDLAT:-/tmp/fwdlat}
OUT=${1:-/tmp/ratios}; rm -rf "$OUT"; mkdir -p "$OUT"
DATA=$OUT/data
TOKEN=loadtest-token-0123456789
SUM=$OUT/summary.txt

ticks() { local l; l=$(cat /proc/$1/stat 2>/dev/null) || { echo 0; return; }; l=${l##*) }; set -- $l; echo $(( ${12} + ${13} )); }
pgticks() { # CPU ticks of BirdCar's private PostgreSQL: the postmaster, its
  # live children, and (cutime, cstime) the children that exited, such as
  # pgbench's backends
  local pm t l p; pm=$(head -1 "$DATA/pgdata/postmaster.pid")
  l=$(cat /proc/"$pm"/stat); l=${l##*) }; set -- $l; t=$(( ${12} + ${13} + ${14} + ${15} ))
  for p in $(pgrep -P "$pm"); do t=$((t + $(ticks "$p"))); done; echo $t; }
HZ=$(getconf CLK_TCK)

start_birdcar() { # start_birdcar MESSAGEBIRD_URL LOG
  rm -rf "$DATA"
  PORT=8080 API_TOKENS=$TOKEN MESSAGEBIRD_API_KEY=test_key MESSAGEBIRD_BASE_URL=$1 ALLOW_UNSIGNED_WEBHOOKS=1 \
    BIRDCAR_DATA_DIR=$DATA ADMIN_PASSWORD=bench-password LOG_FORMAT=json "$BIN/birdcar" > "$2" 2>&1 &
  BC=$!; BC_START=$(date +%s.%N)
  for _ in $(seq 600); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.1; done
  PGPORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$2" | head -1 | sed 's/.*://')
  DB="postgres://birdcar:$(cat "$DATA/postgres-password")@127.0.0.1:$PGPORT"
}
stop_birdcar() { kill "$BC"; wait "$BC" 2>/dev/null; }

# measure LABEL CMD...: runs CMD; prints wall time, the CPU of PostgreSQL,
# BirdCar and the load generator (% of one core; 200 % is the machine),
# and BirdCar's largest RSS while it ran. measure LABEL -pid PID does the
# same for a load generator already running, until it exits.
measure() {
  local label=$1; shift
  local pg0 bc0 t0 t1 maxrss=0 rss job
  pg0=$(pgticks); bc0=$(ticks "$BC"); t0=$(date +%s.%N)
  local TIMEFORMAT='%U %S'
  if [ "$1" = -pid ]; then
    job=$2; local l0 l1; l0=$(ticks "$job"); l1=$l0
  else
    { time "$@" > "$OUT/$label.out" 2>&1 ; } 2> "$OUT/$label.time" &
    job=$!
  fi
  while kill -0 "$job" 2>/dev/null; do
    [ "$1" = -pid ] && l1=$(ticks "$job")
    rss=$(awk '/VmRSS/ {print $2}' /proc/"$BC"/status 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$maxrss" ] && maxrss=$rss
    sleep 0.5
  done
  if [ "$1" = -pid ]; then
    # its CPU as last seen alive
    echo "$(echo "($l1 - $l0) / $HZ" | bc -l) 0" > "$OUT/$label.time"
  else
    wait "$job"
  fi
  t1=$(date +%s.%N)
  local pg1 bc1 lu ls wall
  pg1=$(pgticks); bc1=$(ticks "$BC"); read -r lu ls < "$OUT/$label.time"
  wall=$(echo "$t1 - $t0" | bc -l)
  printf '%s: wall %.1fs CPU%% postgres %.0f birdcar %.0f load %.0f; BirdCar RSS max %d MB\n' "$label" "$wall" \
    "$(echo "100*($pg1-$pg0)/$HZ/$wall" | bc -l)" "$(echo "100*($bc1-$bc0)/$HZ/$wall" | bc -l)" \
    "$(echo "100*($lu+$ls)/$wall" | bc -l)" $((maxrss / 1024)) | tee -a "$SUM"
}

# 1. Forward latency within 30 s of the start.
"$FWDLAT" -listen 127.0.0.1:8082 -target http://127.0.0.1:8080 -pairs "$OUT/pairs.txt" -rate 200 -warmup 600 -n 2000 > "$OUT/fwdlat.out" 2>&1 &
FW=$!
start_birdcar http://127.0.0.1:8082 "$OUT/birdcar-fwdlat.log"
"$BIN/birdcar-load" -token $TOKEN -mode voice -count 1 -rides 200 > "$OUT/fwdlat-setup.out" 2>&1
psql -tA "$DB/birdcar" -c "SELECT ltrim(r.caller_phone, '+') || ' ' || ltrim(p.number, '+') FROM routes r
  JOIN proxy_numbers p ON p.id = r.proxy_number_id WHERE upper_inf(r.valid)" > "$OUT/pairs.tmp"
mv "$OUT/pairs.tmp" "$OUT/pairs.txt"
printf 'fwdlat: sending from %.1f s after BirdCar started\n' "$(echo "$(date +%s.%N) - $BC_START + 0.5" | bc -l)" | tee -a "$SUM"
measure fwdlat -pid $FW
grep 'forward latency' "$OUT/fwdlat.out" | tee -a "$SUM"
stop_birdcar

# 2. Throughput against the references.
"$BIN/fakebird" -addr 127.0.0.1:8081 > "$OUT/fake.log" 2>&1 & FAKE=$!
start_birdcar http://127.0.0.1:8081 "$OUT/birdcar.log"
psql -q "$DB/birdcar" -c 'CREATE DATABASE ref' >/dev/null
pgbench -q -i -s 10 "$DB/ref" > "$OUT/pgbench-init.out" 2>&1
psql -q "$DB/ref" -c 'CREATE TABLE ins (id bigserial PRIMARY KEY, v int NOT NULL)' >/dev/null
printf '\\set v random(1, 1000000)\nINSERT INTO ins (v) VALUES (:v);\n' > "$OUT/ins.sql"
tps() { grep -E '^tps' "$OUT/$1.out" | awk '{printf "%.0f", $3}'; }
for c in 16 64; do
  measure "ref-select-c$c" pgbench -n -S -c $c -j 2 -T 10 "$DB/ref"
  echo "  pgbench -S c$c: $(tps ref-select-c$c) tps" | tee -a "$SUM"
done
measure ref-insert-c64 pgbench -n -f "$OUT/ins.sql" -c 64 -j 2 -T 10 "$DB/ref"
echo "  INSERT per commit c64: $(tps ref-insert-c64) tps" | tee -a "$SUM"
SELECT_BEST=$(( $(tps ref-select-c16) > $(tps ref-select-c64) ? $(tps ref-select-c16) : $(tps ref-select-c64) ))
INSERT_REF=$(tps ref-insert-c64)

measure voice-load "$BIN/birdcar-load" -token $TOKEN -fake http://127.0.0.1:8081 -mode voice -concurrency 64 -duration 10s
awk -v ref="$SELECT_BEST" '$1=="voice" {printf "  voice (load tool, answers checked): %s, %.0f req/s = %.2f x pgbench -S; p50 %s p99 %s\n", $0, $5, $5/ref, $6, $8}' "$OUT/voice-load.out" | tee -a "$SUM"
grep -iE 'wrong|fault|error' "$OUT/voice-load.out" | head -5 | sed 's/^/  /' | tee -a "$SUM"
ROUTE=$(psql -tA -F' ' "$DB/birdcar" -c "SELECT ltrim(r.caller_phone, '+'), ltrim(p.number, '+'), ltrim(r.callee_phone, '+') FROM routes r
  JOIN proxy_numbers p ON p.id = r.proxy_number_id WHERE upper_inf(r.valid) LIMIT 1")
set -- $ROUTE
export WANT=$3
measure voice-wrk wrk -t2 -c64 -d10s --latency -s "$(dirname "$0")/voice-check.lua" "http://127.0.0.1:8080/webhook-voice?source=$1&destination=$2&callID=x"
RPS=$(awk '/Requests\/sec/ {print $2}' "$OUT/voice-wrk.out")
printf '  voice (wrk, answers checked): %.0f req/s = %.2f x pgbench -S; p50 %s p99 %s; %s\n' "$RPS" "$(echo "$RPS / $SELECT_BEST" | bc -l)" \
  "$(awk '$1=="50%" {print $2}' "$OUT/voice-wrk.out")" "$(awk '$1=="99%" {print $2}' "$OUT/voice-wrk.out")" \
  "$(grep 'answers checked' "$OUT/voice-wrk.out")" | tee -a "$SUM"

measure sms-saturated "$BIN/birdcar-load" -token $TOKEN -fake http://127.0.0.1:8081 -mode sms -rate 3000 -duration 10s -drain 60s -require-exact
awk -v ref="$INSERT_REF" '$1=="sms" && NF>8 {printf "  SMS saturated: %d acknowledged in %s s = %.0f/s = %.3f x INSERT per commit; %.0f/s answered 503; p50 %s p99 %s\n", $3, $4, $3/$4, $3/$4/ref, $10/$4, $6, $8}' "$OUT/sms-saturated.out" | tee -a "$SUM"
grep -E 'lost|duplicated' "$OUT/sms-saturated.out" | tr -s ' ' | sed 's/^/  /' | tee -a "$SUM"

stop_birdcar; kill $FAKE; wait $FAKE 2>/dev/null
echo done | tee -a "$SUM"
