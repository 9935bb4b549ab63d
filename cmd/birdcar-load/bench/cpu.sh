#!/bin/bash
# cpu.sh PATTERN...: prints the total CPU seconds (user+system) of the
# processes whose command name matches each pattern, one line each.
for pat in "$@"; do
  total=0
  for st in /proc/[0-9]*/stat; do
    [ -r "$st" ] || continue
    line=$(cat "$st" 2>/dev/null) || continue
    comm=${line#*(}; comm=${comm%%)*}
    [[ "$comm" =~ $pat ]] || continue
    rest=${line##*) }
    set -- $rest
    # fields after comm: state(1) ... utime is field 14 overall = 12th here, stime 13th
    u=${12}; s=${13}
    total=$((total + u + s))
  done
  echo "$total"
done
