# Shared by scripts/demo and scripts/test: install what is missing, configure, build.
# Sourced, not run. Expects ROOT to be the repository root.

# Debian packages the build and the tests need. Boost is named package by package: the
# unversioned libboost-*-dev packages would pull 1.74 and remove 1.81.
STACKONE_PACKAGES=(
    meson ninja-build pkg-config g++ ccache openssl libssl-dev python3 curl
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-test1.81-dev
    libcli11-dev
)
# What `./scripts/test --sanitizers` adds: clang 14 with its libFuzzer runtime (test/fuzz).
STACKONE_SANITIZER_PACKAGES=(clang libclang-rt-14-dev)

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        say "need root to run: $*"
        return 1
    fi
}

# Installs the packages in "$@" that are not installed yet (apt-get update only when needed).
ensure_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Configures build/ once (with -Werror) and builds everything; ccache when available.
build_all() {
    if [ -d /usr/lib/ccache ]; then
        export PATH="/usr/lib/ccache:$PATH"
        export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
        # Hits across checkouts in other folders (CI clones elsewhere): paths are made relative
        # to the checkout, and the working directory is left out of the hash.
        export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
    fi
    if [ ! -f "$ROOT/build/build.ninja" ]; then
        meson setup "$ROOT/build" "$ROOT" -Dwerror=true >/dev/null
    fi
    # Two jobs on a two-core machine: Beast translation units each need about 1 GB.
    ninja -C "$ROOT/build" -j "$(nproc)"
}
