#!/bin/bash
# rides.sh: ride creation, old then new, twice, each right after the
# references on a fast cluster like the test cluster's (fsync,
# synchronous_commit and full_page_writes off) at $REF, password included
# (a private cluster's is in its data directory's postgres-password).
# OLD_TREE and NEW_TREE are checkouts of the two versions.
REF=${REF:?set REF to a postgres:// URL of a fast cluster}
OLD_TREE=${OLD_TREE:?} NEW_TREE=${NEW_TREE:?}
OLD_PKG=${OLD_PKG:-./sql/ride} NEW_PKG=${NEW_PKG:-./sql/ride}
OUT=/tmp/ridebench; mkdir -p $OUT
psql -q "$REF/birdcar" -c 'DROP DATABASE IF EXISTS ref' -c 'CREATE DATABASE ref' >/dev/null
pgbench -q -i -s 10 "$REF/ref" >/dev/null 2>&1
psql -q "$REF/ref" -c 'CREATE TABLE ins (id bigserial PRIMARY KEY, v int NOT NULL)' >/dev/null
printf '\\set v random(1, 1000000)\nINSERT INTO ins (v) VALUES (:v);\n' > $OUT/ins.sql
ref() {
  echo "ref select c16 $(pgbench -n -S -c 16 -j 2 -T 10 "$REF/ref" 2>/dev/null | awk '/^tps/{printf "%.0f", $3}') tps," \
       "insert/commit c1 $(pgbench -n -f $OUT/ins.sql -c 1 -T 10 "$REF/ref" 2>/dev/null | awk '/^tps/{printf "%.0f", $3}') tps"
}
for round in 1 2; do
  echo "round $round old: $(ref)"
  (cd $OLD_TREE && go test $OLD_PKG -run '^$' -bench CreateRide -benchtime 2000x -timeout 30m 2>&1 | grep Benchmark)
  echo "round $round new: $(ref)"
  (cd $NEW_TREE && go test $NEW_PKG -run '^$' -bench CreateRide -benchtime 2000x -timeout 30m 2>&1 | grep Benchmark)
done
