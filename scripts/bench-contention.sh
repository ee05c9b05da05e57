#!/usr/bin/env bash
# Keel under contention: W1 and W2 with one competing busy process on the machine, default
# Keel (KEEL_NUM_THREADS unset: all CPUs, adapting) against KEEL_NUM_THREADS=1 and against
# every CPU fixed (KEEL_NUM_THREADS=$(nproc), never adapted). Runs are interleaved, ROUNDS
# times, and the ratios of the medians printed (docs/performance.md, target: default <= 1.1
# x the faster of the 1-thread and the all-thread run).
#
#   scripts/bench-contention.sh              # ROUNDS=3 W2_EPOCHS=3
#   QUIET=1 scripts/bench-contention.sh      # the same runs without the competing process
#   THREADS=8 scripts/bench-contention.sh    # also a fixed 8-thread run (oversubscribed)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p keel-bench
bench=target/release/keel-bench
rounds=${ROUNDS:-3}
cpus=$(nproc)
extra=${THREADS:-}

if [ -z "${QUIET:-}" ]; then
  # The competing process: a busy shell loop, ended at exit and after 30 minutes at most.
  timeout 1800 bash -c 'while :; do :; done' &
  hog=$!
  trap 'kill $hog 2>/dev/null || true' EXIT
  echo "competing busy loop: pid $hog" >&2
fi

median_of_run() { grep -o '"epoch_median":[0-9.]*' | cut -d: -f2; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

declare -A times
for w in w1 w2; do
  args=()
  [ "$w" = w2 ] && args=(--epochs "${W2_EPOCHS:-3}")
  for r in $(seq "$rounds"); do
    for mode in default 1 "$cpus" $extra; do
      if [ "$mode" = default ]; then
        t=$(env -u KEEL_NUM_THREADS "$bench" "$w" "${args[@]}" | median_of_run)
      else
        t=$(KEEL_NUM_THREADS=$mode "$bench" "$w" "${args[@]}" | median_of_run)
      fi
      echo "$w round $r threads=$mode epoch_median=$t" >&2
      times[$w,$mode]+="$t "
    done
  done
done

echo "workload default_s one_thread_s all_${cpus}_s${extra:+ fixed_${extra}_s} default/min(one,default) default/one"
for w in w1 w2; do
  d=$(echo ${times[$w,default]} | tr ' ' '\n' | median)
  one=$(echo ${times[$w,1]} | tr ' ' '\n' | median)
  all=$(echo ${times[$w,$cpus]} | tr ' ' '\n' | median)
  ex=""
  [ -n "$extra" ] && ex=$(echo ${times[$w,$extra]} | tr ' ' '\n' | median)
  awk -v w="$w" -v d="$d" -v one="$one" -v all="$all" -v ex="$ex" 'BEGIN {
    best = (one < d) ? one : d
    fixed = (ex == "") ? "" : sprintf(" %.4f", ex)
    printf "%s %.4f %.4f %.4f%s %.2f %.2f\n", w, d, one, all, fixed, d / best, d / one
  }'
done
