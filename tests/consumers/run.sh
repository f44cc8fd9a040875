#!/usr/bin/env bash
# The three ways to consume frame_arena, each built from scratch and run: TAP.
# usage: run.sh SOURCE_ROOT WORK_DIR
set -u
src=$(cd "$1" && pwd)
work=$2
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
echo "TAP version 13"
echo "1..3"

# 1. meson subproject: dependency('frame_arena') through override_dependency
(
    set -e
    cp -r "$src/tests/consumers/subproject" "$work/sub"
    cp "$src/tests/consumers/game.c" "$work/game.c"
    mkdir -p "$work/sub/subprojects/frame_arena"
    (cd "$src" && git ls-files -z 2>/dev/null || find . -type f -not -path './build*' -print0) |
        (cd "$src" && xargs -0 cp --parents -t "$work/sub/subprojects/frame_arena")
    meson setup "$work/sub/build" "$work/sub" --wrap-mode=nodownload
    meson compile -C "$work/sub/build"
    "$work/sub/build/game"
) >"$work/sub.log" 2>&1
report $? "meson subproject: dependency('frame_arena') builds and runs" "$work/sub.log"

# 2. pkg-config after meson install into a staging prefix
(
    set -e
    meson setup "$work/inst-build" "$src" --prefix=/usr/local -Dtests=false -Dexamples=false -Ddemo=false
    meson compile -C "$work/inst-build"
    meson install -C "$work/inst-build" --destdir "$work/stage"
    pc=$(dirname "$(find "$work/stage" -name frame_arena.pc | head -n 1)")
    export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$work/stage
    "$cc" -std=c11 -Wall -Wextra -Werror "$src/tests/consumers/game.c" $(pkg-config --cflags --libs frame_arena) \
        -o "$work/game-pc"
    "$work/game-pc"
) >"$work/pc.log" 2>&1
report $? "pkg-config: installed library, headers and frame_arena.pc build a game with plain cc" "$work/pc.log"

# 3. copy-in: the engine's files compiled with the game, no build system
(
    set -e
    mkdir -p "$work/copy"
    cp -r "$src/engine" "$work/copy/engine"
    cd "$work/copy"
    "$cc" -std=c11 -O2 -Wall -Wextra -Werror -Iengine "$src/tests/consumers/game.c" engine/os_vm.c \
        engine/os_vm_posix.c engine/page_stack.c engine/frame_arena.c engine/scratch.c engine/allocator.c -o game
    ./game
) >"$work/copy.log" 2>&1
report $? "copy-in: engine/ compiled into the game with plain cc" "$work/copy.log"

exit $((fails != 0))
