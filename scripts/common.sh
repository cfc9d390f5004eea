# Shared by scripts/demo.sh and scripts/test.sh: install what is missing
# (Debian bookworm, as root) and build. Idempotent.

set -euo pipefail

TRUSTGATE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

TRUSTGATE_PACKAGES=(
  g++ meson ninja-build pkg-config
  libssl-dev libsimdjson-dev libtbb-dev libxxhash-dev liburing-dev
  libsqlite3-dev libcbor-dev libcurl4-openssl-dev nlohmann-json3-dev
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-format-16 sqlite3
)

# ensure_packages installs the Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  local p
  for p in "${TRUSTGATE_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# build_tree DIR [meson options...]: configure once, then build (quietly;
# the compiler's messages are shown when the build fails).
build_tree() {
  local dir=$1
  shift
  if [ ! -f "$TRUSTGATE_ROOT/$dir/build.ninja" ]; then
    meson setup "$TRUSTGATE_ROOT/$dir" "$TRUSTGATE_ROOT" "$@" >/dev/null
  fi
  local log="$TRUSTGATE_ROOT/$dir/build-output.log"
  if ! ninja -C "$TRUSTGATE_ROOT/$dir" -j"$(nproc)" >"$log" 2>&1; then
    grep -vE '^\[[0-9]+/[0-9]+\] ' "$log" | tail -60 >&2
    echo "build failed in $dir (full log: $log)" >&2
    return 1
  fi
}
