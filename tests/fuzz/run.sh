#!/bin/sh
# run.sh FUZZER SEED_CORPUS SECONDS
# Replays every file of the seed corpus once (a crash fails the run), then
# fuzzes for SECONDS on a scratch copy of the corpus, so nothing is written
# into the repository. A crash leaves its input in $FUZZ_ARTIFACTS (default:
# a temporary directory, printed) to be turned into a unit-test case.
set -eu
fuzzer=$1
seeds=$2
seconds=$3
name=$(basename "$fuzzer")
work=$(mktemp -d "${TMPDIR:-/tmp}/sinch-$name-XXXXXX")
trap 'rm -rf "$work/corpus"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$work}
mkdir -p "$work/corpus" "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "$name: replaying $(ls "$seeds" | wc -l) seed inputs"
"$fuzzer" -runs=0 "$seeds" </dev/null
[ "$seconds" -gt 0 ] || exit 0
cp "$seeds"/* "$work/corpus/"
echo "$name: fuzzing for $seconds s (crash inputs go to $artifacts/)"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus" </dev/null
