#!/usr/bin/env bash
# The CMake build cross-built for Windows with MinGW-w64 (the toolchain file
# beside this script), warnings as errors; ctest then runs the examples and
# engine_check under wine. The windows lane runs it as the test cmake_windows.
# Usage: cmake_windows.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
rm -rf "$build"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$src/tests/cross/mingw-w64-x86_64.cmake" \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Wpedantic -Werror"
cmake --build "$build"
cd "$build"
WINEDEBUG=-all ctest --output-on-failure
