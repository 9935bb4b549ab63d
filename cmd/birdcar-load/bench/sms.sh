#!/bin/bash
# sms.sh OUT [ENV=value...]: the saturated SMS webhook against its
# reference, alone (issue 15's SMS row of ratios.sh, quicker to repeat):
# a fresh BirdCar with the fake MessageBird (ENV passed to it), one
# INSERT per commit at 64 clients on its cluster, then 3,000 texts a
# second offered for 10 s, every acknowledged one counted at the fake,
# with what the database's sessions were waiting for (pg_stat_activity
# sampled every 100 ms). Builds from $BIN (as ratios.sh); ports 8080-8081.
set -u
BIN=${BIN:-/tmp/bin-new}
OUT=$1; shift; rm -rf "$OUT"; mkdir -p "$OUT"; DATA=$OUT/data; TOKEN=loadtest-token-0123456789
"$BIN/fakebird" -addr 127.0.0.1:8081 > "$OUT/fake.log" 2>&1 & FAKE=$!
env "$@" PORT=8080 API_TOKENS=$TOKEN MESSAGEBIRD_API_KEY=test_key MESSAGEBIRD_BASE_URL=http://127.0.0.1:8081 ALLOW_UNSIGNED_WEBHOOKS=1 \
  BIRDCAR_DATA_DIR=$DATA ADMIN_PASSWORD=bench-password LOG_FORMAT=json "$BIN/birdcar" > "$OUT/birdcar.log" 2>&1 & BC=$!
for _ in $(seq 600); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.1; done
PGPORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$OUT/birdcar.log" | head -1 | sed 's/.*://')
DB="postgres://birdcar:$(cat "$DATA/postgres-password")@127.0.0.1:$PGPORT"
psql -q "$DB/birdcar" -c 'CREATE DATABASE ref' >/dev/null
psql -q "$DB/ref" -c 'CREATE TABLE ins (id bigserial PRIMARY KEY, v int NOT NULL)' >/dev/null
printf '\\set v random(1, 1000000)\nINSERT INTO ins (v) VALUES (:v);\n' > "$OUT/ins.sql"
pgbench -n -f "$OUT/ins.sql" -c 64 -j 2 -T 10 "$DB/ref" > "$OUT/ref.out" 2>&1
REF=$(grep -E '^tps' "$OUT/ref.out" | awk '{printf "%.0f", $3}')
( sleep 4; for i in $(seq 60); do psql -tA "$DB/birdcar" -c "SELECT coalesce(wait_event_type,'cpu')||':'||coalesce(wait_event,'-')||' '||left(regexp_replace(query,'\s+',' ','g'),50) FROM pg_stat_activity WHERE state='active' AND pid<>pg_backend_pid() AND datname='birdcar'" ; sleep 0.1; done > "$OUT/waits.txt" ) & SAMP=$!
"$BIN/birdcar-load" -token $TOKEN -fake http://127.0.0.1:8081 -mode sms -rate 3000 -duration 10s -drain 60s -require-exact > "$OUT/sms.out" 2>&1
wait $SAMP
awk -v ref="$REF" '$1=="sms" && NF>8 {printf "SMS: %d ack in %s s = %.0f/s = %.3f x INSERT (%d tps); 503/s %.0f; p50 %s p99 %s\n", $3, $4, $3/$4, $3/$4/ref, ref, $10/$4, $6, $8}' "$OUT/sms.out"
grep -E "drained|lost|duplicated" "$OUT/sms.out"
sed 's/ [0-9]\+\b/ N/g' "$OUT/waits.txt" | sort | uniq -c | sort -rn | head -25
kill $BC; wait $BC; kill $FAKE; wait $FAKE 2>/dev/null
