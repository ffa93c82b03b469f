#!/bin/sh
# Run one fuzz harness, or all of them one after another, for a number of executions.
#
#   fuzz/run.sh [HARNESS|all] [RUNS]      (default: all, 10000000)
#
# HARNESS is a module fuzz/fuzz_HARNESS.py, or a quoted list of them ("paths xfcc"). Each run starts from the committed seeds in
# fuzz/corpus/HARNESS and grows a working corpus in fuzz/.work/corpus/HARNESS (git-ignored),
# so a second run continues where the first stopped. Crashing inputs land in
# fuzz/.work/artifacts/HARNESS/, the libFuzzer log in fuzz/.work/logs/HARNESS.log. One
# process, one job, at nice 10. FUZZ_PYTHON is the interpreter with atheris (default: python3);
# extra libFuzzer options can be passed in FUZZ_OPTIONS.
# Exits non-zero when any harness crashed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
python=${FUZZ_PYTHON:-python3}
target=${1:-all}
runs=${2:-10000000}
all="header compact xfcc keyset paths scopes spiffe dpop"
if [ "$target" = all ]; then harnesses=$all; else harnesses=$target; fi

status=0
printf '%-8s %12s %6s %7s %8s %8s %8s %7s\n' harness executions cov ft corpus exec/s seconds crashes
for name in $harnesses; do
    if [ ! -f "$here/fuzz_$name.py" ]; then
        echo "unknown harness '$name' (one of: $all)" >&2
        exit 2
    fi
    work="$here/.work"
    mkdir -p "$work/corpus/$name" "$work/artifacts/$name" "$work/logs"
    log="$work/logs/$name.log"
    # XFCC parsing costs per element: 2 KiB (two certificates) keeps each input fast.
    case $name in xfcc) max_len=2048 ;; *) max_len=4096 ;; esac
    start=$(date +%s)
    # shellcheck disable=SC2086 # FUZZ_OPTIONS is a list of options
    (cd "$root" && env -u DJANGO_SETTINGS_MODULE PYTHONPATH="$root" nice -n 10 "$python" -m "fuzz.fuzz_$name" \
        -runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$here/dicts/$name.dict" -artifact_prefix="$work/artifacts/$name/" ${FUZZ_OPTIONS:-} \
        "$work/corpus/$name" "$here/corpus/$name") >"$log" 2>&1
    code=$?
    seconds=$(( $(date +%s) - start ))
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corpus=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    crashes=$(find "$work/artifacts/$name" -type f | wc -l | tr -d ' ')
    printf '%-8s %12s %6s %7s %8s %8s %8s %7s\n' "$name" "${executions:-?}" "${cov:-?}" "${ft:-?}" \
        "${corpus:-?}" "${speed:-?}" "$seconds" "$crashes"
    if [ "$code" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        echo "  $name: exit $code, see $log and $work/artifacts/$name/" >&2
        status=1
    fi
done
exit $status
