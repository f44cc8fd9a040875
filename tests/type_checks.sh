#!/bin/bash
# The copy macros' type checks (page_stack.h, frame_arena.hpp): TAP.
# usage: type_checks.sh ENGINE_DIR SOURCE WORK_DIR "CC..." ["CXX..."]
set -u
engine=$1 source=$2 work=$3 cc=$4 cxx=${5:-}
mkdir -p "$work"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; sed 's/^/# /' "$work/out.txt"; }

# compile LANG_FLAGS...: -fsyntax-only over the source with -Werror
compile() { $compiler "$@" -Wall -Wextra -pedantic -Werror -fsyntax-only -I "$engine" "$src" > "$work/out.txt" 2>&1; }

# refused WHAT FLAG TEXT...: compiling with FLAG must fail, and the report hold every TEXT
refused() {
    local what=$1 flag=$2
    shift 2
    if compile $std "$flag"; then
        not_ok "$what (it compiled)"
        return
    fi
    for text in "$@"; do
        if ! grep -qF "$text" "$work/out.txt"; then
            not_ok "$what (the report does not say \"$text\")"
            return
        fi
    done
    ok "$what"
}

total=3
[ -n "$cxx" ] && total=9
echo "TAP version 13"
echo "1..$total"
for lang in c cpp; do
    if [ $lang = c ]; then
        compiler=$cc src=$source std=-std=c11
    else
        [ -n "$cxx" ] || continue
        compiler=$cxx std=-std=c++17 src=$work/type_checks.cpp
        cp "$source" "$src"
    fi
    what="push_array_copy and cursor_push_array_copy of T from T *, const T *, void *, const void * and T[]"
    if compile $std; then ok "$lang: $what"; else not_ok "$lang: $what"; fi
    for macro in push_array_copy cursor_push_array_copy; do
        suffix= call="push_array_copy(ps, Body, o, 1)"
        [ $macro = cursor_push_array_copy ] && suffix=_CURSOR call="cursor_push_array_copy(c, Body, o, 1)"
        refused "$lang: $macro of T from another type is diagnosed" -DWRONG$suffix "distinct pointer types" "$call"
        [ $lang = cpp ] || continue
        refused "cpp: $macro of a type that is not trivially copyable is an error" -DNOT_COPYABLE$suffix \
            "T must be trivially copyable"
    done
    [ $lang = cpp ] || continue
    refused "cpp: frame_arena::Cursor::push_copy of a type that is not trivially copyable is an error" \
        -DNOT_COPYABLE_HPP "T must be trivially copyable"
done
exit $failed
