#!/bin/bash
# fwd.sh OUT [ENV=value...]: forward latency at 200 texts a second from a
# fresh BirdCar (step 1 of ratios.sh, ENV passed to BirdCar), then where
# the time went, from the database: River's pickup (attempted_at -
# created_at of the send jobs) and the slowest forwards split into the
# webhook's insert, the pickup and the send. Builds from $BIN, fwdlat from
# $FWDLAT (as ratios.sh); ports 8080 and 8082.
set -u
BIN=${BIN:-/tmp/bin-new}
FWDLAT=${FWDLAT:-/tmp/fwdlat}
OUT=${1:-/tmp/fwdrun}; shift; rm -rf $OUT; mkdir -p $OUT; DATA=$OUT/data; TOKEN=loadtest-token-0123456789
"$FWDLAT" -listen 127.0.0.1:8082 -target http://127.0.0.1:8080 -pairs "$OUT/pairs.txt" -rate 200 -warmup 600 -n 2000 > "$OUT/fwdlat.out" 2>&1 & FW=$!
env "$@" PORT=8080 API_TOKENS=$TOKEN MESSAGEBIRD_API_KEY=test_key MESSAGEBIRD_BASE_URL=http://127.0.0.1:8082 ALLOW_UNSIGNED_WEBHOOKS=1 \
    BIRDCAR_DATA_DIR=$DATA ADMIN_PASSWORD=bench-password LOG_FORMAT=json $BIN/birdcar > $OUT/birdcar.log 2>&1 & BC=$!
for _ in $(seq 600); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.1; done
PGPORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$OUT/birdcar.log" | head -1 | sed 's/.*://')
DB="postgres://birdcar:$(cat "$DATA/postgres-password")@127.0.0.1:$PGPORT/birdcar"
$BIN/birdcar-load -token $TOKEN -mode voice -count 1 -rides 200 > "$OUT/setup.out" 2>&1
psql -tA "$DB" -c "SELECT ltrim(r.caller_phone, '+') || ' ' || ltrim(p.number, '+') FROM routes r JOIN proxy_numbers p ON p.id = r.proxy_number_id WHERE upper_inf(r.valid)" > "$OUT/pairs.tmp"; mv "$OUT/pairs.tmp" "$OUT/pairs.txt"
wait $FW; cat $OUT/fwdlat.out
psql "$DB" -c "WITH j AS (SELECT extract(epoch from attempted_at-created_at)*1000 pick, extract(epoch from finalized_at-attempted_at)*1000 work, created_at FROM river_job WHERE kind='send_sms' ORDER BY id OFFSET 600)
SELECT round(percentile_cont(0.5) within group (order by pick)::numeric,1) pick50, round(percentile_cont(0.99) within group (order by pick)::numeric,1) pick99, round(max(pick)::numeric,1) pickmax,
 round(percentile_cont(0.5) within group (order by work)::numeric,1) work50, round(percentile_cont(0.99) within group (order by work)::numeric,1) work99 FROM j"
psql "$DB" -c "SELECT date_trunc('second', created_at) s, count(*), round(max(extract(epoch from attempted_at-created_at)*1000)::numeric,1) maxpick FROM river_job WHERE kind='send_sms' GROUP BY 1 ORDER BY 1" | head -30
psql "$DB" -c "WITH x AS (SELECT i.created_at t0, j.created_at t1, j.attempted_at t2, o.updated_at t3 FROM messages o JOIN messages i ON i.id = o.forward_of JOIN river_job j ON (j.args->>'message_id')::bigint = o.id WHERE o.kind='forward' ORDER BY o.id OFFSET 600)
SELECT to_char(t0,'SS.MS') t, round(extract(epoch from t1-t0)*1000,1) ins, round(extract(epoch from t2-t1)*1000,1) pick, round(extract(epoch from t3-t2)*1000,1) send FROM x ORDER BY t3-t0 DESC LIMIT 15"
kill $BC; wait $BC
