#!/bin/bash
# run.sh - run the libFuzzer targets built by `make fuzz-build`.
#
#   test/fuzz/run.sh SECONDS [TARGET...]     (targets: decode task_json path)
#
# Called by `make fuzz` (FUZZ_SECONDS, default 60), `make fuzz-test` (30 s,
# part of `make test`) and `make fuzz-regress` (SECONDS = 0: replay only).
# Builds nothing. For each target, in order:
#   1. replays every file in test/fuzz/regressions/TARGET/ (crashes found
#      before: each must now pass);
#   2. copies the seed corpus test/fuzz/corpus/TARGET/ into
#      build/fuzz/work/TARGET/corpus/ (kept between runs, so coverage
#      accumulates there; the repository's corpus is never written);
#   3. fuzzes for SECONDS with ASan + UBSan (leaks on), the target's
#      dictionary, a 5 s per-input timeout and a 2 GiB RSS limit.
# A crash, leak, timeout or broken invariant stops the run with a non-zero
# exit; the reproducer is build/fuzz/work/TARGET/crash-* (or leak-*,
# timeout-*, oom-*), its path and the replay/minimize commands are printed.
# A fixed crash is kept: minimize it, copy it to test/fuzz/regressions/TARGET/.
# Each target prints one line: runs, exec/s, cov (edges), ft (features).
set -u
cd "$(dirname "$0")/../.." || exit 2

seconds=${1:?usage: test/fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(decode task_json path)

# Longest input per target: frames and bodies up to 64 KiB reach every
# list limit that matters; a path is 1 control byte + at most 1025 bytes.
declare -A max_len=([decode]=65536 [task_json]=65536 [path]=1100)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1:allocator_may_return_null=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
summary=()
for t in "${targets[@]}"; do
    bin=build/fuzz/fuzz_$t
    if [[ ! -x $bin ]]; then
        echo "fuzz: $bin is missing: run make fuzz-build" >&2
        exit 2
    fi
    work=build/fuzz/work/$t
    # The path target makes its workspaces under TMPDIR: tmpfs when there
    # is one (three times faster than ext4), else the work directory.
    tmp=$PWD/$work/tmp
    [[ -d /dev/shm && -w /dev/shm ]] && tmp=/dev/shm/cleudo-fuzz-$t.$$
    mkdir -p "$work/corpus" "$tmp"
    export TMPDIR=$tmp
    dict=()
    [[ -f test/fuzz/$t.dict ]] && dict=(-dict="test/fuzz/$t.dict")

    # 1. regressions
    shopt -s nullglob
    regress=(test/fuzz/regressions/"$t"/*)
    shopt -u nullglob
    if [[ ${#regress[@]} -gt 0 ]]; then
        if ! "$bin" "${regress[@]}" >"$work/regress.log" 2>&1; then
            echo "fuzz: $t: a regression input fails again:" >&2
            grep -aE "INVARIANT|ERROR|SUMMARY|Running:" "$work/regress.log" | tail -n 8 >&2
            echo "fuzz: $t: full log: $work/regress.log" >&2
            rm -rf "$tmp"
            summary+=("$(printf '%-10s a regression input fails: not fuzzed  FAILED' "$t")")
            status=1
            continue
        fi
        echo "fuzz: $t: ${#regress[@]} regression inputs pass"
    fi
    if [[ $seconds -le 0 ]]; then
        rm -rf "$tmp"
        continue
    fi

    # 2. the seeds, copied
    cp -n test/fuzz/corpus/"$t"/* "$work/corpus/"
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
          "$work"/slow-unit-*

    # 3. fuzz
    echo "fuzz: $t: ${seconds}s (log: $work/fuzz.log)"
    "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -max_len="${max_len[$t]:-4096}" "${dict[@]}" -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/corpus" >"$work/fuzz.log" 2>&1
    rc=$?
    rm -rf "$tmp"
    last=$(grep -E "^#[0-9]+" "$work/fuzz.log" | tail -n 1)
    runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
    line=$(printf '%-10s runs %-10s exec/s %-7s cov %-6s ft %-7s corpus %s' "$t" \
           "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
    if [[ $rc -ne 0 ]]; then
        shopt -s nullglob
        found=("$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*)
        shopt -u nullglob
        echo "fuzz: $t: FAILED (exit $rc)" >&2
        grep -aE "INVARIANT|ERROR: |SUMMARY|runtime error" "$work/fuzz.log" | head -n 8 >&2
        for f in "${found[@]}"; do
            echo "fuzz: $t: reproducer: $f" >&2
            echo "    replay:   $bin $f" >&2
            echo "    minimize: $bin -minimize_crash=1 -runs=100000 $f" >&2
        done
        echo "fuzz: $t: full log: $work/fuzz.log" >&2
        summary+=("$line  FAILED")
        status=1
    else
        summary+=("$line  ok")
    fi
done
if [[ ${#summary[@]} -gt 0 ]]; then
    echo "fuzz: summary (${seconds}s each)"
    printf '  %s\n' "${summary[@]}"
fi
exit $status
