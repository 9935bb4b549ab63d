#!/bin/bash
# sum.sh DIR: one line of figures per benchmark run directory.
d=$1
tps() { grep -E '^tps' "$d/$1.out" | awk '{printf "%.0f", $3}'; }
cpu() { grep "^$1:" "$d/summary.txt" | sed 's/.*CPU% //'; }
phase() { awk -v p="$2" '$1==p {print}' "$d/$1.out"; }
echo "== $d"
echo "ref: select c16 $(tps ref-select-c16) tps, c64 $(tps ref-select-c64) tps, insert/commit c16 $(tps ref-insert-c16) tps"
v=$(phase voice-load voice); echo "voice load: $(echo $v | awk '{print $5" req/s p50 "$6" p95 "$7" p99 "$8}') | $(cpu voice-load)"
echo "voice wrk: $(grep Requests/sec $d/voice-wrk.out | awk '{print $2}') req/s p50 $(awk '$1=="50%"{print $2}' $d/voice-wrk.out) p90 $(awk '$1=="90%"{print $2}' $d/voice-wrk.out) p99 $(awk '$1=="99%"{print $2}' $d/voice-wrk.out) | $(cpu voice-wrk)"
s=$(phase sms-200 sms); echo "sms 200/s: $(echo $s | awk '{print $5" req/s p50 "$6" p95 "$7" p99 "$8}'); $(grep 'forward latency' $d/sms-200.out | sed 's/ *forward latency *//'); $(grep 'lost' $d/sms-200.out | tr -s ' ') | $(cpu sms-200)"
s=$(phase sms-3000 sms); echo "sms 3000/s: $(echo $s | awk '{printf "%d ok in %s = %.0f ack/s, %.0f/s answered 503, p50 %s p99 %s", $3, $4, $3/$4, $10/$4, $6, $8}'); $(grep 'lost' $d/sms-3000.out | tr -s ' '); $(grep 'duplicated' $d/sms-3000.out | tr -s ' ') | $(cpu sms-3000)"
