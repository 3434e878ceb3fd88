#!/usr/bin/env bash
# Long fuzzing: runs every fuzz_* harness of a fuzz build (preset "fuzz") for a given time
# each, as many at once as there are cores, and prints the executions and crashes of each.
#
#   bench/fuzz_long.sh [build dir (build/fuzz)] [seconds per harness (14400)] [harness names...]
#
# Each harness grows its corpus in <build>/corpus/<name> (kept between runs; the seeds and
# regressions of fuzz/ are read only) and writes crashes, leaks, timeouts and OOMs as
# <build>/fuzz-artifacts/<name>/crash-*, leak-*, timeout-*, oom-*; its log is
# <build>/fuzz-logs/<name>.log. Minimize a crash with
#   <build>/fuzz/fuzz_<name> -minimize_crash=1 -runs=20000 <artifact>
# and commit the result to fuzz/regressions/<name>/. Exits non-zero when any harness failed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/fuzz}
seconds=${2:-14400}
shift $(($# > 2 ? 2 : $#))
jobs=${FUZZ_JOBS:-$(nproc)}

bindir=$build/fuzz
[ -d "$bindir" ] || { echo "no fuzz build in $build (cmake --preset fuzz && cmake --build --preset fuzz)" >&2; exit 2; }
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for b in "$bindir"/fuzz_*; do
        [ -x "$b" ] && names+=("$(basename "$b" | sed 's/^fuzz_//')")
    done
fi
[ ${#names[@]} -gt 0 ] || { echo "no fuzz_* executables in $bindir" >&2; exit 2; }
mkdir -p "$build/fuzz-logs" "$build/fuzz-artifacts"

run_one() {
    local name=$1
    local corpus=$build/corpus/$name artifacts=$build/fuzz-artifacts/$name
    local dict=()
    mkdir -p "$corpus" "$artifacts"
    [ -f "$here/fuzz/dict/$name.dict" ] && dict=(-dict="$here/fuzz/dict/$name.dict")
    local dirs=("$corpus")
    for d in "$here/fuzz/corpus/$name" "$here/fuzz/regressions/$name"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    # -fork keeps fuzzing past a crash (each crash is one artifact); one job per harness.
    nice "$bindir/fuzz_$name" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "${dirs[@]}" \
        > "$build/fuzz-logs/$name.log" 2>&1
}

echo "fuzzing ${#names[@]} harnesses for ${seconds}s each, $jobs at a time"
running=0
for name in "${names[@]}"; do
    run_one "$name" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

# Executions: the sum of the stats of every fork (stat::number_of_executed_units), or the
# last "#N" status line; findings: the artifacts written.
status=0
printf '%-22s %14s %8s %8s %8s %8s\n' harness executions crashes leaks timeouts ooms
for name in "${names[@]}"; do
    log=$build/fuzz-logs/$name.log
    artifacts=$build/fuzz-artifacts/$name
    execs=$(awk '/stat::number_of_executed_units:/ { n += $2 } END { print n + 0 }' "$log")
    if [ "$execs" = 0 ]; then
        execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
        execs=${execs:-0}
    fi
    count() { find "$artifacts" -maxdepth 1 -name "$1-*" | wc -l; }
    crashes=$(count crash) leaks=$(count leak) timeouts=$(count timeout) ooms=$(count oom)
    printf '%-22s %14s %8s %8s %8s %8s\n' "$name" "$execs" "$crashes" "$leaks" "$timeouts" "$ooms"
    [ $((crashes + leaks + timeouts + ooms)) -eq 0 ] || status=1
done
exit $status
