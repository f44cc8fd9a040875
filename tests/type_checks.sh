#!/bin/bash
# push_array_copy's type check (page_stack.h): TAP.
# usage: type_checks.sh ENGINE_DIR SOURCE WORK_DIR "CC..." ["CXX..."]
set -u
engine=$1 source=$2 work=$3 cc=$4 cxx=${5:-}
mkdir -p "$work"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; sed 's/^/# /' "$work/out.txt"; }

# compile LANG_FLAGS...: -fsyntax-only over the source with -Werror
compile() { $compiler "$@" -Wall -Wextra -pedantic -Werror -fsyntax-only -I "$engine" "$src" > "$work/out.txt" 2>&1; }

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
        define=-DWRONG call="push_array_copy(ps, Body, o, 1)"
        [ $macro = cursor_push_array_copy ] && define=-DWRONG_CURSOR call="cursor_push_array_copy(c, Body, o, 1)"
        what="$lang: $macro of T from another type is diagnosed"
        if compile $std $define; then
            not_ok "$what (it compiled)"
        elif grep -q "distinct pointer types" "$work/out.txt" && grep -qF "$call" "$work/out.txt"; then
            ok "$what"
        else
            not_ok "$what (not as distinct pointer types)"
        fi
        [ $lang = cpp ] || continue
        define=-DNOT_COPYABLE
        [ $macro = cursor_push_array_copy ] && define=-DNOT_COPYABLE_CURSOR
        what="cpp: $macro of a type that is not trivially copyable is an error"
        if compile $std $define; then
            not_ok "$what (it compiled)"
        elif grep -q "T must be trivially copyable" "$work/out.txt"; then
            ok "$what"
        else
            not_ok "$what (not the static_assert)"
        fi
    done
    [ $lang = cpp ] || continue
    what="cpp: frame_arena::Cursor::push_copy of a type that is not trivially copyable is an error"
    if compile $std -DNOT_COPYABLE_HPP; then
        not_ok "$what (it compiled)"
    elif grep -q "T must be trivially copyable" "$work/out.txt"; then
        ok "$what"
    else
        not_ok "$what (not the static_assert)"
    fi
done
exit $failed
