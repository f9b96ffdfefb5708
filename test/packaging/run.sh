#!/usr/bin/env bash
# Checks that stackone-notes-cpp can be used the two ways its users would:
#   1. installed (`meson install` into a private prefix), then found by a CMake project with
#      find_package(stackone_notes) through CMAKE_PREFIX_PATH, also after the prefix was moved;
#   2. as a Meson subproject, found by dependency('stackone-notes') through a wrap's [provide].
#
# Usage: test/packaging/run.sh [SOURCE_DIR]   (default: the tree this script belongs to)
#
# Needs meson, ninja, cmake and a C++20 compiler; exits 77 (skip) without cmake. Slow (minutes):
# the library's Beast code is compiled twice, once for each consumer. Runs at -O0 to save time,
# and uses ccache when it is on PATH. Everything happens in a temporary directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "${1:-$here/../..}" && pwd)

for tool in meson ninja cmake; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool is not installed" >&2
        exit 77
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step()
{
    echo "== $(date +%T) $*"
}

# Only the library: its programs, tests and benchmarks are not what consumers get.
library_only=(-Dtools=false -Dtests=false -Dbench=false -Dexamples=false)

step "install $source_dir into a private prefix"
meson setup "$work/build" "$source_dir" --prefix "$work/prefix" --buildtype debug \
    "${library_only[@]}" >"$work/setup.log" || { cat "$work/setup.log"; exit 1; }
ninja -C "$work/build"
meson install -C "$work/build" --quiet

config=$(find "$work/prefix" -name stackone_notesConfig.cmake)
version_file=$(find "$work/prefix" -name stackone_notesConfigVersion.cmake)
if [[ -z $config || -z $version_file ]]; then
    echo "FAIL: the CMake package files were not installed" >&2
    find "$work/prefix" -type f | sed "s|^$work/||" >&2
    exit 1
fi
echo "installed ${config#"$work/"} and ${version_file#"$work/"}"

# Configures, builds and runs the CMake consumer against PREFIX, in build directory DIR.
cmake_consumer()
{
    local prefix=$1 dir=$2
    cmake -S "$here/cmake_consumer" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_PREFIX_PATH="$prefix" >"$dir.log" || { cat "$dir.log"; return 1; }
    cmake --build "$dir"
    "$dir/consumer"
}

step "CMake consumer: find_package(stackone_notes 0.1) from the prefix"
cmake_consumer "$work/prefix" "$work/cmake-consumer"

# The package must locate itself: nothing in it may name the prefix it was installed to.
step "CMake consumer: the same prefix, moved elsewhere"
mv "$work/prefix" "$work/moved-prefix"
cmake_consumer "$work/moved-prefix" "$work/cmake-consumer-moved"

# A version request the package must refuse: 0.1.x does not satisfy 0.2 or 1.0. (CXX, not
# NONE: without a language CMake does not search lib/<multiarch>/cmake.)
step "CMake consumer: version requests that must fail"
for wanted in 0.2 1.0; do
    mkdir -p "$work/reject-$wanted"
    cat >"$work/reject-$wanted/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.19)
project(reject CXX)
find_package(stackone_notes $wanted)
if(stackone_notes_FOUND)
    message(FATAL_ERROR "accepted")
endif()
EOF
    if ! cmake -S "$work/reject-$wanted" -B "$work/reject-$wanted/build" \
        -DCMAKE_PREFIX_PATH="$work/moved-prefix" >"$work/reject-$wanted.log" 2>&1; then
        cat "$work/reject-$wanted.log" >&2
        echo "FAIL: find_package(stackone_notes $wanted) accepted version 0.1.x" >&2
        exit 1
    fi
    # Refused for its version, not because the package was not found at all.
    if ! grep -q 'stackone_notesConfig.cmake, version: 0\.1' "$work/reject-$wanted.log"; then
        cat "$work/reject-$wanted.log" >&2
        echo "FAIL: find_package(stackone_notes $wanted) did not consider the package" >&2
        exit 1
    fi
    echo "find_package(stackone_notes $wanted): refused"
done

# The consumer gets a copy of the tree, as a wrap download would, without build directories.
step "Meson consumer: the tree as subprojects/stackone-notes"
consumer=$work/meson-consumer
mkdir -p "$consumer"
cp -r "$here/meson_consumer/." "$consumer/"
mkdir -p "$consumer/subprojects/stackone-notes"
tar -C "$source_dir" --anchored --exclude=./.git --exclude=./build --exclude='./build-*' \
    --exclude='./subprojects/*/' -cf - . | tar -C "$consumer/subprojects/stackone-notes" -xf -
meson setup "$consumer/build" "$consumer" --buildtype debug --wrap-mode=nodownload \
    >"$work/consumer-setup.log" || { cat "$work/consumer-setup.log"; exit 1; }
ninja -C "$consumer/build"
"$consumer/build/consumer"

step "PASS"
