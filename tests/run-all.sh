#!/bin/sh
# The whole test suite, as CI runs it: a plain build (warnings are errors)
# and its tests, a slice of the integration tests again with the agent under
# valgrind memcheck, then an AddressSanitizer + UndefinedBehaviorSanitizer build
# and the same tests under it, then the libFuzzer targets built with clang:
# each replays its seed corpus and fuzzes for SINCH_FUZZ_SECONDS (20).
# Long soak/chaos/install tests sit behind CTest labels and are not run here
# (ctest -L soak, -L chaos; cmake --build build-fuzz --target fuzz-long).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-$(nproc)}
exclude='soak|chaos|install|bench|valgrind'
# Integration tests rerun with every agent under valgrind in CI (about 3
# minutes on 2 cores); the rest of the label is slow, not different.
valgrind_slice='valgrind/test_(delivery|faults_data|faults_http|faults_stream|syslog|syslog_tls|tls_api|cli)$'

echo "== plain build"
cmake -S . -B build -DSINCH_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build -j"$jobs" --output-on-failure -LE "$exclude"

echo "== valgrind memcheck slice (the whole label: ctest --test-dir build -L valgrind)"
ctest --test-dir build -j"$jobs" --output-on-failure -L valgrind -R "$valgrind_slice"

echo "== ASan+UBSan build"
cmake -S . -B build-asan -DSINCH_WERROR=ON -DSINCH_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan -j"$jobs" --output-on-failure -LE "$exclude"

echo "== fuzz build (clang, libFuzzer, ASan+UBSan)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSINCH_FUZZ=ON -DSINCH_WERROR=ON \
	-DSINCH_FUZZ_SECONDS="${SINCH_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-fuzz -j"$jobs"
echo "== fuzz: seed corpora replayed, then each target briefly"
ctest --test-dir build-fuzz -j"$jobs" --output-on-failure -L fuzz
