#!/bin/sh
# The whole test suite, as CI runs it: a plain build (warnings are errors)
# and its tests, then an AddressSanitizer + UndefinedBehaviorSanitizer build
# and the same tests under it. Long soak/chaos/install tests sit behind CTest
# labels and are not run here (ctest -L soak, -L chaos).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-$(nproc)}
exclude='soak|chaos|install|bench'

echo "== plain build"
cmake -S . -B build -DSINCH_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build -j"$jobs" --output-on-failure -LE "$exclude"

echo "== ASan+UBSan build"
cmake -S . -B build-asan -DSINCH_WERROR=ON -DSINCH_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan -j"$jobs" --output-on-failure -LE "$exclude"
