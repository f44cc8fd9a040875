#!/usr/bin/env bash
# The ways to consume frame_arena, each built from scratch and run: TAP.
# usage: run.sh SOURCE_ROOT WORK_DIR [STRICT_WARNINGS]
# STRICT_WARNINGS: the warning flags the library is built with
# (engine/meson.build), which copy-in compiles the one-file form with too.
# PYTHON, if set, is the Python to run (meson.build's; else python3).
set -u
src=$(cd "$1" && pwd)
work=$2
strict=${3:-}
rm -rf "$work"
mkdir -p "$work"
cc=${CC:-cc}
n=0
fails=0
report() { # report OK NAME LOGFILE
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
    else
        fails=$((fails + 1))
        echo "not ok $n - $2"
        sed 's/^/  # /' "$3" | tail -n 20
    fi
}
skip() { # skip NAME REASON
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}
# copy_repo DIR: the repository's files (as git knows them) into DIR
copy_repo() {
    mkdir -p "$1"
    (cd "$src" && git ls-files -z 2>/dev/null || find . -type f -not -path './build*' -print0) |
        (cd "$src" && xargs -0 cp --parents -t "$1")
}
# last_opt COMPILE_COMMANDS SOURCE: the last -O flag SOURCE is compiled with
# (the one the compiler takes), or -O0 if none
last_opt() {
    "${PYTHON:-python3}" - "$1" "$2" <<'PY'
import json, shlex, sys
for c in json.load(open(sys.argv[1])):
    if c["file"].endswith("/" + sys.argv[2]):
        args = c.get("arguments") or shlex.split(c["command"])
        print(([a for a in args if a.startswith("-O")] or ["-O0"])[-1])
        break
PY
}
# calls_library OBJECT: whether OBJECT's pushes are calls to the library
# (PAGE_STACK_PUSH_CALL, the default in code compiled at -O0)
calls_library() {
    nm --undefined-only "$1" | grep -qw page_stack_push_call
}
echo "TAP version 13"
echo "1..8"

# 1. meson subproject: dependency('frame_arena') through override_dependency
(
    set -e
    cp -r "$src/tests/consumers/subproject" "$work/sub"
    cp "$src/tests/consumers/game.c" "$work/game.c"
    copy_repo "$work/sub/subprojects/frame_arena"
    meson setup "$work/sub/build" "$work/sub" --wrap-mode=nodownload
    meson compile -C "$work/sub/build"
    "$work/sub/build/game"
    # meson's default build type is debug: the game at -O0 calls the library
    # for its pushes, and the library is compiled with -O2 all the same
    calls_library "$(find "$work/sub/build" -name '*game.c.o')"
    [ "$(last_opt "$work/sub/build/compile_commands.json" game.c)" = -O0 ]
    [ "$(last_opt "$work/sub/build/compile_commands.json" page_stack.c)" = -O2 ]
    # a release build inlines them
    meson setup "$work/sub/build-release" "$work/sub" --wrap-mode=nodownload -Dbuildtype=release
    meson compile -C "$work/sub/build-release"
    "$work/sub/build-release/game"
    ! calls_library "$(find "$work/sub/build-release" -name '*game.c.o')"
) >"$work/sub.log" 2>&1
report $? "meson subproject: dependency('frame_arena') builds and runs, debug (the library at -O2) and release" \
    "$work/sub.log"

# 2. pkg-config after meson install into a staging prefix, in the plain build
# and in the checked one, whose .pc file must give the game FRAME_ARENA_CHECKED
pc_game() { # pc_game NAME MESON_ARGS...: installs into $work/NAME-stage, builds and runs the game
    local name=$1
    shift
    meson setup "$work/$name-build" "$src" --prefix=/usr/local -Dtests=false -Dexamples=false -Ddemo=false \
        -Dbench=false "$@"
    meson compile -C "$work/$name-build"
    meson install -C "$work/$name-build" --destdir "$work/$name-stage"
    local pc
    pc=$(dirname "$(find "$work/$name-stage" -name frame_arena.pc | head -n 1)")
    PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$work/$name-stage pkg-config --cflags --libs frame_arena \
        >"$work/$name-flags.txt"
    "$cc" -std=c11 -Wall -Wextra -Werror "$src/tests/consumers/game.c" $(cat "$work/$name-flags.txt") \
        -o "$work/game-$name"
    "$work/game-$name" >"$work/$name-out.txt"
    cat "$work/$name-out.txt"
}
(
    set -e
    pc_game pc
    ! grep -q "the checked build" "$work/pc-out.txt"
) >"$work/pc.log" 2>&1
report $? "pkg-config: installed library, headers and frame_arena.pc build a game with plain cc" "$work/pc.log"
(
    set -e
    pc_game pc-checked -Dchecked=true
    grep -q "the checked build" "$work/pc-checked-out.txt"
) >"$work/pc-checked.log" 2>&1
report $? "pkg-config: a checked install's frame_arena.pc gives the game FRAME_ARENA_CHECKED" "$work/pc-checked.log"

# 4. copy-in: the engine's files compiled with the game, no build system;
# then the one-file form, engine/frame_arena_unity.c, plain and checked, with
# the strict warnings a game may build with (docs/EMBEDDING.md, "Your warnings")
(
    set -e
    mkdir -p "$work/copy"
    cp -r "$src/engine" "$work/copy/engine"
    cd "$work/copy"
    "$cc" -std=c11 -O2 -Wall -Wextra -Werror -Iengine "$src/tests/consumers/game.c" engine/os_vm.c \
        engine/os_vm_posix.c engine/page_stack.c engine/frame_arena.c engine/scratch.c engine/allocator.c -o game
    ./game
    "$cc" -std=c11 -O2 -Wall -Wextra -Wpedantic $strict -Werror -Iengine "$src/tests/consumers/game.c" \
        engine/frame_arena_unity.c -o game-unity
    ./game-unity
    "$cc" -std=c11 -O2 -Wall -Wextra -Wpedantic $strict -Werror -DFRAME_ARENA_CHECKED -Iengine \
        "$src/tests/consumers/game.c" engine/frame_arena_unity.c -o game-unity-checked
    ./game-unity-checked
) >"$work/copy.log" 2>&1
report $? "copy-in: engine/ compiled into the game with plain cc, file by file and as frame_arena_unity.c" "$work/copy.log"

# 5-7. CMake: the copy through add_subdirectory (as FetchContent adds it), in
# the plain and the checked build, and the installed package through
# find_package.
cmake_game() { # cmake_game NAME CONFIGURE_ARGS...: configures, builds and runs the game in $work/NAME
    local name=$1
    shift
    cmake -S "$work/cmake" -B "$work/$name" -G Ninja "$@"
    cmake --build "$work/$name"
    "$work/$name/game" >"$work/$name/out.txt"
    cat "$work/$name/out.txt"
}
if command -v cmake >/dev/null; then
    (
        set -e
        mkdir -p "$work/cmake"
        cp "$src/tests/consumers/cmake/CMakeLists.txt" "$work/cmake/"
        cp "$src/tests/consumers/game.c" "$work/game.c"
        copy_repo "$work/cmake/frame_arena"
        # no build type, and then the Debug type: gcc optimises neither, so
        # the game calls the library for its pushes, and the library is
        # compiled with -O2 all the same
        for type in "" Debug; do
            cmake_game "cmake-sub$type" -DCMAKE_BUILD_TYPE=$type -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
            ! grep -q "the checked build" "$work/cmake-sub$type/out.txt"
            calls_library "$(find "$work/cmake-sub$type" -name '*game.c.o')"
            [ "$(last_opt "$work/cmake-sub$type/compile_commands.json" game.c)" = -O0 ]
            [ "$(last_opt "$work/cmake-sub$type/compile_commands.json" page_stack.c)" = -O2 ]
        done
    ) >"$work/cmake-sub.log" 2>&1
    report $? "CMake: add_subdirectory and frame_arena::frame_arena build a game, with no build type and Debug (the library at -O2)" \
        "$work/cmake-sub.log"
    (
        set -e
        cmake_game cmake-checked -DFRAME_ARENA_CHECKED=ON
        grep -q "the checked build" "$work/cmake-checked/out.txt"
    ) >"$work/cmake-checked.log" 2>&1
    report $? "CMake: FRAME_ARENA_CHECKED=ON builds the checked library and defines FRAME_ARENA_CHECKED for the game" \
        "$work/cmake-checked.log"
    (
        set -e
        cmake -S "$src" -B "$work/cmake-lib" -G Ninja -DCMAKE_C_FLAGS="-Wall -Wextra -Wpedantic -Werror"
        cmake --build "$work/cmake-lib"
        # built on its own, the examples and engine_check too, run by ctest
        (cd "$work/cmake-lib" && ctest --output-on-failure) | tee "$work/cmake-ctest.txt"
        grep -q "100% tests passed, 0 tests failed out of 3" "$work/cmake-ctest.txt"
        cmake --install "$work/cmake-lib" --prefix "$work/cmake-prefix"
        # the headers meson installs (test 2), no more, no fewer
        diff <(cd "$work/pc-stage" && ls "$(find . -type d -path '*/include/frame_arena')") \
            <(ls "$work/cmake-prefix/include/frame_arena")
        cmake_game cmake-installed -DUSE_INSTALLED=ON -DCMAKE_PREFIX_PATH="$work/cmake-prefix"
    ) >"$work/cmake-installed.log" 2>&1
    report $? "CMake: built on its own it runs the examples and engine_check, and its installed package (meson's headers) and find_package(frame_arena) build a game" \
        "$work/cmake-installed.log"
else
    skip "CMake: add_subdirectory" "cmake is not installed"
    skip "CMake: the checked build" "cmake is not installed"
    skip "CMake: find_package" "cmake is not installed"
fi

# 8. CMakeLists.txt keeps up with meson.build: the same version, and every
# source file of the engine; and so does frame_arena_unity.c, which includes
# every other one.
(
    set -e
    meson_version=$(sed -n "s/^  version : '\(.*\)',\$/\1/p" "$src/meson.build")
    cmake_version=$(sed -n 's/^project(frame_arena VERSION \([^ ]*\) .*/\1/p' "$src/CMakeLists.txt")
    echo "meson.build: '$meson_version', CMakeLists.txt: '$cmake_version'"
    [ -n "$meson_version" ]
    [ "$meson_version" = "$cmake_version" ]
    for c in "$src"/engine/*.c; do
        base=$(basename "$c")
        [ "$base" = frame_arena_unity.c ] && continue
        grep -qw "engine/$base" "$src/CMakeLists.txt" || { echo "CMakeLists.txt lacks engine/$base"; exit 1; }
        grep -q "^#include \"$base\"" "$src/engine/frame_arena_unity.c" ||
            { echo "engine/frame_arena_unity.c lacks $base"; exit 1; }
    done
) >"$work/cmake-lists.log" 2>&1
report $? "CMakeLists.txt has meson.build's version and every engine source; frame_arena_unity.c includes each" \
    "$work/cmake-lists.log"

exit $((fails != 0))
