#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test
# (unit, CLI integration, interop against ../shared), then the unit tests
# again under ASan + UBSan, and check formatting.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages
cd "$TRUSTGATE_ROOT"

if [ ! -d ../shared/interop/notation-e2e ]; then
  echo "test: ../shared (interop pack, Wycheproof vectors) must sit beside the checkout" >&2
  exit 2
fi

build_tree build
failed=0
meson test -C build --print-errorlogs --num-processes 2 || failed=1

build_tree build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbenchmarks=disabled -Dbuildtype=debug
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan base io crypto policy policy_safety emergency engine rotation revocation mkmirror \
    --print-errorlogs --num-processes 2 \
  --logbase sanitizer || failed=1

unformatted=$(git ls-files '*.cc' '*.h' | xargs clang-format-16 --dry-run -Werror 2>&1 | grep -c "error:" || true)
if [ "$unformatted" != "0" ]; then
  echo "test: $unformatted formatting problems (run: git ls-files '*.cc' '*.h' | xargs clang-format-16 -i)" >&2
  failed=1
fi

# One closing line for people and CI: GoogleTest cases passed / failed
# (the unit tests count twice: plain and sanitized).
count() {
  cat build/meson-logs/testlog.txt build-asan/meson-logs/sanitizer.txt 2>/dev/null \
    | { grep -oE "^\[  $1  \] [0-9]+" || true; } | awk '{s+=$4} END {print s+0}'
}
passed=$(count PASSED)
fails=$(count FAILED)
if [ "$failed" -ne 0 ] && [ "$fails" -eq 0 ]; then fails=1; fi
echo "tests: $passed passed, $fails failed"
exit "$failed"
