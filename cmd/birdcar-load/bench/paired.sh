#!/bin/bash
# paired.sh ROUNDS: the old and new builds side by side ($BIN_DIR-old on
# port 8080, $BIN_DIR-new on 8090), each on its own private cluster; wrk on
# the voice webhook, then the load tool's saturated SMS run, against each
# in turn, ROUNDS times, alternating which goes first, so that both meet the
# same machine. Prints requests a second and CPU per request of BirdCar and
# of its PostgreSQL.
set -u
ROUNDS=${1:-4}
TOKEN=loadtest-token-0123456789
OUT=/tmp/paired; rm -rf $OUT; mkdir -p $OUT
ticks() { local l; l=$(cat /proc/$1/stat); l=${l##*) }; set -- $l; echo $(( ${12} + ${13} )); }
pgticks() { # CPU ticks of the postgres processes under a data dir's postmaster
  local pm=$(head -1 $1/postmaster.pid) t=0 p
  for p in $pm $(pgrep -P $pm); do t=$((t + $(ticks $p 2>/dev/null || echo 0))); done; echo $t; }
declare -A BCPID FAKEPID PORTS DATA
for v in old new; do
  port=8080; [ $v = new ] && port=8090
  DATA[$v]=/tmp/paireddata-$v; rm -rf ${DATA[$v]}
  ${BIN_DIR:-/tmp/bin}-$v/fakebird -addr 127.0.0.1:$((port+1)) > $OUT/fake-$v.log 2>&1 &
  FAKEPID[$v]=$!
  PORT=$port API_TOKENS=$TOKEN MESSAGEBIRD_API_KEY=test_key MESSAGEBIRD_BASE_URL=http://127.0.0.1:$((port+1)) ALLOW_UNSIGNED_WEBHOOKS=1 \
    BIRDCAR_DATA_DIR=${DATA[$v]} ADMIN_PASSWORD=x LOG_FORMAT=json ${BIN_DIR:-/tmp/bin}-$v/birdcar > $OUT/bc-$v.log 2>&1 &
  BCPID[$v]=$!; PORTS[$v]=$port
done
for v in old new; do for i in $(seq 600); do curl -sf http://127.0.0.1:${PORTS[$v]}/readyz >/dev/null && break; sleep 0.1; done; done
for v in old new; do
  ${BIN_DIR:-/tmp/bin}-new/birdcar-load -target http://127.0.0.1:${PORTS[$v]} -token $TOKEN -mode voice -duration 1s > $OUT/setup-$v.out 2>&1
done
declare -A URL
for v in old new; do
  pg=$(grep -o 'listening on 127.0.0.1:[0-9]*' $OUT/bc-$v.log | head -1 | sed 's/.*://')
  r=$(psql -tA "postgres://birdcar:$(cat ${DATA[$v]}/postgres-password)@127.0.0.1:$pg/birdcar" -c "SELECT ltrim(r.caller_phone, '+') || ' ' || ltrim(p.number, '+') FROM routes r JOIN proxy_numbers p ON p.id = r.proxy_number_id WHERE upper_inf(r.valid) LIMIT 1")
  set -- $r; URL[$v]="http://127.0.0.1:${PORTS[$v]}/webhook-voice?source=$1&destination=$2&callID=x"
done
for round in $(seq $ROUNDS); do
  order="old new"; [ $((round % 2)) = 0 ] && order="new old"
  for v in $order; do
    b0=$(ticks ${BCPID[$v]}); p0=$(pgticks ${DATA[$v]}/pgdata)
    wrk -t2 -c64 -d10s --latency "${URL[$v]}" > $OUT/wrk-$v-$round.out 2>&1
    b1=$(ticks ${BCPID[$v]}); p1=$(pgticks ${DATA[$v]}/pgdata)
    n=$(grep -o '[0-9]* requests in' $OUT/wrk-$v-$round.out | awk '{print $1}')
    printf 'round %d %s: %s req/s p99 %s; birdcar %.0f µs/req, postgres %.0f µs/req\n' $round $v \
      "$(grep Requests/sec $OUT/wrk-$v-$round.out | awk '{print $2}')" "$(awk '$1=="99%"{print $2}' $OUT/wrk-$v-$round.out)" \
      "$(echo "($b1-$b0)*10000/$n" | bc -l)" "$(echo "($p1-$p0)*10000/$n" | bc -l)" | tee -a $OUT/summary.txt
  done
done
for round in $(seq $ROUNDS); do
  order="old new"; [ $((round % 2)) = 0 ] && order="new old"
  for v in $order; do
    b0=$(ticks ${BCPID[$v]}); p0=$(pgticks ${DATA[$v]}/pgdata)
    ${BIN_DIR:-/tmp/bin}-new/birdcar-load -target http://127.0.0.1:${PORTS[$v]} -fake http://127.0.0.1:$((${PORTS[$v]}+1)) -token $TOKEN \
      -mode sms -rate 3000 -duration 10s -drain 60s > $OUT/sms-$v-$round.out 2>&1
    b1=$(ticks ${BCPID[$v]}); p1=$(pgticks ${DATA[$v]}/pgdata)
    read -r ok dur non2xx < <(awk '$1=="sms" {print $3, $4, $10}' $OUT/sms-$v-$round.out)
    dur=${dur%s}
    printf 'sms round %d %s: %.0f acknowledged/s (%.0f/s 503), %s; birdcar %.0f µs/ack, postgres %.0f µs/ack\n' $round $v \
      "$(echo "$ok/$dur" | bc -l)" "$(echo "$non2xx/$dur" | bc -l)" "$(grep -E '^ *(lost|duplicated) ' $OUT/sms-$v-$round.out | tr -s ' ' | paste -sd,)" \
      "$(echo "($b1-$b0)*10000/$ok" | bc -l)" "$(echo "($p1-$p0)*10000/$ok" | bc -l)" | tee -a $OUT/summary.txt
  done
done
for v in old new; do kill ${BCPID[$v]} ${FAKEPID[$v]}; done; wait 2>/dev/null
