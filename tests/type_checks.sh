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

total=2
[ -n "$cxx" ] && total=5
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
    if compile $std; then ok "$lang: push_array_copy of T from T *, const T *, void *, const void * and T[]"
    else not_ok "$lang: push_array_copy of T from T *, const T *, void *, const void * and T[]"; fi
    if compile $std -DWRONG; then
        not_ok "$lang: push_array_copy of T from another type is diagnosed (it compiled)"
    elif grep -q "distinct pointer types" "$work/out.txt" && grep -q "copy_wrong\|type_checks" "$work/out.txt"; then
        ok "$lang: push_array_copy of T from another type is diagnosed"
    else
        not_ok "$lang: push_array_copy of T from another type is diagnosed (not as distinct pointer types)"
    fi
    [ $lang = cpp ] || continue
    if compile $std -DNOT_COPYABLE; then
        not_ok "cpp: push_array_copy of a type that is not trivially copyable is an error (it compiled)"
    elif grep -q "T must be trivially copyable" "$work/out.txt"; then
        ok "cpp: push_array_copy of a type that is not trivially copyable is an error"
    else
        not_ok "cpp: push_array_copy of a type that is not trivially copyable is an error (not the static_assert)"
    fi
done
exit $failed
