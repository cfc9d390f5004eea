#!/usr/bin/env bash
# The main job, on a demo mirror: install what is missing, build, generate a
# signed demo mirror with mkmirror, verify it with trustgate, and answer a
# push-time question from the verdict index.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages
build_tree build

cd "$TRUSTGATE_ROOT"
rm -rf demo
./build/tools/mkmirror/mkmirror --preset demo --out demo
echo
echo "== trustgate verify (text report) =="
status=0
./build/tools/trustgate verify --mirror demo/mirror --config demo/config \
  --index demo/index.db || status=$?
echo "(exit status $status: 0 = all verified or skipped, 1 = something failed)"

# The demo mirror holds three deliberately bad artifacts in
# registry.example.com/quarantine/imports; every other artifact verifies.
# Compare every verdict with what mkmirror says it built.
./build/tools/trustgate export --index demo/index.db --format jsonl > demo/verdicts.jsonl
if ! ./build/tools/mkmirror/mkmirror --compare demo/expected.jsonl demo/verdicts.jsonl; then
  echo "demo: verdicts differ from the expected ones" >&2
  exit 1
fi

echo
echo "== push-time gate: answer from the index alone =="
good=$(grep -m1 '"verdict":"verified"' demo/verdicts.jsonl | sed -E 's/.*"repository":"([^"]+)","digest":"([^"]+)".*/\1@\2/')
./build/tools/trustgate check --index demo/index.db "$good"
echo
echo "demo: OK (verdicts match the mirror's expected outcomes)"
