#!/usr/bin/env python3
"""Every C and C++ block of the README and docs/EMBEDDING.md compiles.

    python3 tests/doc_snippets.py SOURCE_ROOT WORK_DIR "CC..." "CXX..."

A block is a fragment of a game: GIVEN below says, for each block by the
text it begins with, what the fragment takes as given (the game's types,
variables and functions, only declared). A block's leading #define and
#include lines come first, then what is given, then its other leading lines
that belong at file scope (typedefs, static declarations, function
definitions); the rest becomes the body of a function. A struct that a block defines under a typedef is
the docs showing a header's own: it must read as that header has it
(comments and spacing aside), and it is left out of the compile.

Each block compiles with -Wall -Wextra -pedantic -Werror -fsyntax-only
(C11, or C++17), its unused variables and parameters allowed. Prints TAP,
one test per block; a block GIVEN does not name, and a GIVEN entry that
names no block, fail too. A block that includes a header the machine does
not have (cJSON's) is skipped with that said. One more test: the packages
the README's quick start says `./dev demo` installs, and the others the
other commands add, are those of `demo_packages` and `packages` in ./dev.
"""
import os
import re
import subprocess
import sys

DOCS = ['README.md', 'docs/EMBEDDING.md']

GIVEN = [
    ('README.md', '#include "frame_arena.h"', '''
#include <stdbool.h>
typedef struct Vertex { float pos[3], uv[2]; } Vertex;
typedef struct Particle { float pos[3], vel[3]; } Particle;
extern bool running;
extern size_t count;
extern const Particle *last_frame_particles;
void build_and_draw(PageStack *frame, Vertex *verts, uint32_t *keys, const Particle *prev);
'''),
    ('README.md', 'PageStack *ps = page_stack_create(NULL);', '''
#include "page_stack.h"
typedef struct Particle { float pos[3], vel[3]; } Particle;
'''),
    ('README.md', 'PageStackCursor c = page_stack_cursor_begin(frame);', '''
#include "page_stack.h"
typedef struct Vertex { float pos[3], uv[2]; } Vertex;
extern PageStack *frame;
extern int n;
'''),
    ('README.md', 'FrameArena *fa = frame_arena_create(&(FrameArenaDesc){.lanes = worker_count});', '''
#include "frame_arena.h"
typedef struct Hit { float t; uint32_t entity; } Hit;
extern uint32_t worker_count, w;
extern size_t n;
void run_jobs_and_wait(void);
'''),
    ('README.md', 'void hud_keep_label(Hud *hud, const char *label)', '''
#include <assert.h>
#include "frame_arena.h"
typedef struct Hud { const char *label; } Hud;
extern FrameArena *frame_memory;
'''),
    ('README.md', 'char *path_join(PageStack *out, const char *a, const char *b)', '''
#include "scratch.h"
extern size_t len;
'''),
    ('README.md', '/* At startup: every thread that makes its scratch stacks after this makes them', '''
#include "scratch.h"
void log_warning(const char *message);
'''),
    ('docs/EMBEDDING.md', 'typedef struct Allocator {', '''
#include "allocator.h"
extern PageStack *frame;
'''),
    ('docs/EMBEDDING.md', 'static _Thread_local Allocator json;', '''
#include "allocator.h"
#include "frame_arena.h"
#include <cjson/cJSON.h>
extern FrameArena *fa;
extern const char *text;
'''),
    ('docs/EMBEDDING.md', '#include "frame_arena.hpp"', '''
#include <memory_resource>
#include <string>
#include <vector>
struct Vertex { float pos[3], uv[2]; };
struct Entity { std::string name; float pos[3]; };
extern FrameArena *fa;
extern int n;
extern Vertex **quads;
'''),
    ('docs/EMBEDDING.md', '#define FRAME_ARENA_TRACY', ''),
    ('docs/EMBEDDING.md', '/* Before the old code is unloaded, in the old code: */', '''
#include "frame_arena.h"
#include "scratch.h"
typedef struct GameMemory { FrameArena *frame; PageStack *level; } GameMemory;
extern GameMemory *memory;
extern PageStackDesc scratch_desc;
void run_on_every_worker(void (*job)(void));
void on_frame(FrameArena *fa, const FrameSample *sample, void *user);
void on_fail(PageStack *ps, size_t size, size_t align, void *user);
'''),
]

FLAGS = ['-Wall', '-Wextra', '-pedantic', '-Werror', '-Wno-unused-variable', '-Wno-unused-but-set-variable',
         '-Wno-unused-parameter', '-Wno-unused-function', '-fsyntax-only']


def blocks(root):
    """(doc, line, language, text) of every ```c and ```cpp block, dedented"""
    found = []
    for doc in DOCS:
        with open(os.path.join(root, doc)) as f:
            lines = f.read().split('\n')
        i = 0
        while i < len(lines):
            m = re.match(r'^(\s*)```(c|cpp)\s*$', lines[i])
            if not m:
                i += 1
                continue
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != '```':
                body.append(lines[i])
                i += 1
            indent = min((len(line) - len(line.lstrip()) for line in body if line.strip()), default=0)
            found.append((doc, start, m.group(2), '\n'.join(line[indent:] for line in body)))
            i += 1
    return found


def depth(text):
    text = re.sub(r'"(\\.|[^"\\])*"', '""', re.sub(r'/\*.*?\*/', '', text))
    return text.count('{') + text.count('(') - text.count('}') - text.count(')')


def split(text):
    """(file-scope part, typedef'd structs, body) of a block"""
    lines = text.split('\n')
    top, structs, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith('#'):
            top.append(line)
            i += 1
            continue
        if line.startswith('/*'):  # a comment goes with what follows it
            j = i
            while '*/' not in lines[j]:
                j += 1
            rest = split('\n'.join(lines[j + 1:]))
            if rest[0].strip():
                top.extend(lines[i:j + 1])
                i = j + 1
                continue
            break
        definition = re.match(r'^[A-Za-z_][\w\s*]*\b\w+\(.*\)\s*$', line) and i + 1 < len(lines) and \
            lines[i + 1] == '{'
        if not (line.startswith(('static ', 'typedef ')) or definition):
            break
        j, level = i, depth(line)
        while j + 1 < len(lines) and (level > 0 or definition and j == i):
            j += 1
            level += depth(lines[j])
        item = lines[i:j + 1]
        (structs if re.match(r'typedef struct \w+\s*\{', '\n'.join(item)) else top).extend(item)
        i = j + 1
    return '\n'.join(top), structs, '\n'.join(lines[i:])


def normal(text):
    return ' '.join(re.sub(r'/\*.*?\*/|//[^\n]*', ' ', text, flags=re.S).split())


# The package lists of ./dev (the variable) and the README quick start's
# sentence that names each (up to its list in parentheses): the demo's, which
# `./dev demo` installs alone, and the rest, which every other command adds.
PACKAGE_LISTS = [
    ('demo_packages', r'installs\s+only\s+the\s+Debian\s+packages\s+they\s+need', './dev demo'),
    ('packages', r'and\s+the\s+rest\s+the\s+tests\s+and\s+benchmarks\s+need', 'the other commands'),
]


def package_lists(root):
    """For each of PACKAGE_LISTS: its name, the packages of ./dev's list (its
    "${...[@]}" items left out, which the lists before give) and those the
    README names (the backquoted words of the sentence's parentheses); None
    where either is not found."""
    with open(os.path.join(root, 'dev')) as f:
        dev = f.read()
    with open(os.path.join(root, 'README.md')) as f:
        readme = f.read()
    found = []
    for var, sentence, what in PACKAGE_LISTS:
        d = re.search(r'^' + var + r'=\((.*?)\)', dev, re.M | re.S)
        r = re.search(sentence + r'\s+\((.*?)\)', readme, re.S)
        found.append((var, sentence, what,
                      {w for w in d.group(1).split() if not w.startswith('"$')} if d else None,
                      set(re.findall(r'`([a-z0-9][a-z0-9.+-]*)`', r.group(1))) if r else None))
    return found


def main(argv):
    if len(argv) != 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root, work, cc = argv[1], argv[2], argv[3].split()
    cxx = argv[4].split()
    os.makedirs(work, exist_ok=True)
    headers = ''
    for name in sorted(os.listdir(os.path.join(root, 'engine'))):
        if name.endswith(('.h', '.hpp')):
            with open(os.path.join(root, 'engine', name)) as f:
                headers += normal(f.read()) + '\n'
    found = blocks(root)
    used = set()
    print('TAP version 13')
    print(f'1..{len(found) + 2}')
    for n, (doc, line, lang, text) in enumerate(found, 1):
        what = f'{doc}:{line} ({lang}) compiles'
        given = [g for g in GIVEN if g[0] == doc and text.startswith(g[1])]
        if len(given) != 1:
            print(f'not ok {n} - {what}')
            print(f'# {"no" if not given else "more than one"} GIVEN entry of tests/doc_snippets.py names this block;'
                  f' it begins: {text.split(chr(10))[0]}')
            continue
        used.add(given[0][:2])
        compiler = cc if lang == 'c' else cxx
        top, structs, body = split(text)
        stale = [one.split('\n')[0] for one in re.findall(r'typedef struct \w+\s*\{.*?\}\s*\w+;', '\n'.join(structs), re.S)
                 if normal(one) not in headers]
        first = line + 1 + text[:len(text) - len(body)].count('\n')  # the body's first line in the doc
        rest = top.split('\n')
        head = []  # the block's own leading #define and #include lines come first, what is given after
        while rest and (rest[0].startswith('#') or not rest[0].strip()):
            head.append(rest.pop(0))
        source = '\n'.join(['/* ' + what + ' */'] + head + [given[0][2]] + rest +
                            ['void doc_snippet(void)', '{', f'#line {first} "{doc}"', body, '}', ''])
        path = os.path.join(work, f'snippet_{n}.{lang}')
        with open(path, 'w') as f:
            f.write(source)
        standard = '-std=c11' if lang == 'c' else '-std=c++17'
        run = subprocess.run(compiler + [standard] + FLAGS + ['-I', os.path.join(root, 'engine'),
                                                              '-I', os.path.join(root, 'tests', 'tracy_stub'), path],
                             capture_output=True, text=True)
        missing = re.search(r'fatal error: (cjson/cJSON\.h): No such file', run.stderr)
        if run.returncode and missing:
            print(f'ok {n} - {what} # SKIP {missing.group(1)} is not installed')
        elif run.returncode or stale:
            print(f'not ok {n} - {what}')
            for s in stale:
                print(f'# a struct the block shows is not its header\'s: {s}')
            for out in run.stderr.strip().split('\n') if run.returncode else []:
                print(f'# {out}')
        else:
            print(f'ok {n} - {what}')
    unused = [g for g in GIVEN if g[:2] not in used]
    print(('not ok' if unused else 'ok') + f' {len(found) + 1} - every GIVEN entry names a block')
    for g in unused:
        print(f'# no block of {g[0]} begins: {g[1]}')
    lists = package_lists(root)
    ok = all(dev and dev == readme for _, _, _, dev, readme in lists)
    print(('ok' if ok else 'not ok') +
          f' {len(found) + 2} - the README\'s quick start names the packages ./dev installs')
    for var, sentence, what, dev, readme in lists:
        if dev is None or readme is None:
            print(f'# not found: the {var}=(...) list of ./dev' if dev is None else
                  f'# not found: the README\'s sentence /{sentence}/ with its packages in parentheses')
            continue
        for name in sorted(dev - readme):
            print(f'# ./dev installs {name} for {what} ({var}), which the README does not name there')
        for name in sorted(readme - dev):
            print(f'# the README names {name} for {what}, which ./dev does not install there ({var})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
