/* push_array_copy's type checks, compiled by tests/type_checks.sh: the
 * right sources compile cleanly; with WRONG (the stack's macro) or
 * WRONG_CURSOR (the cursor's) defined, a source of another type must be
 * diagnosed (a warning in C, an error in C++); with NOT_COPYABLE,
 * NOT_COPYABLE_CURSOR or NOT_COPYABLE_HPP (frame_arena::Cursor::push_copy),
 * in C++, a type that is not trivially copyable must be an error. */
#include "page_stack.h"

typedef struct Body {
    float x, y;
} Body;

typedef struct Other {
    double z;
} Other;

Body *copy_right(PageStack *ps, Body *b, const Body *cb, void *v, const void *cv, Body arr[4]);

Body *copy_right(PageStack *ps, Body *b, const Body *cb, void *v, const void *cv, Body arr[4])
{
    Body *r = push_array_copy(ps, Body, b, 1);
    r = push_array_copy(ps, Body, cb, 1);
    r = try_push_array_copy(ps, Body, v, 1);
    r = try_push_array_copy(ps, Body, cv, 1);
    return r ? r : push_array_copy(ps, Body, arr, 4);
}

Body *copy_right_through_a_cursor(PageStackCursor *c, const Body *b);

Body *copy_right_through_a_cursor(PageStackCursor *c, const Body *b)
{
    return cursor_push_array_copy(c, Body, b, 2);
}

#ifdef WRONG
Body *copy_wrong(PageStack *ps, const Other *o);

Body *copy_wrong(PageStack *ps, const Other *o)
{
    return push_array_copy(ps, Body, o, 1);
}
#endif

#ifdef WRONG_CURSOR
Body *copy_wrong(PageStackCursor *c, const Other *o);

Body *copy_wrong(PageStackCursor *c, const Other *o)
{
    return cursor_push_array_copy(c, Body, o, 1);
}
#endif

#if defined(__cplusplus) && defined(NOT_COPYABLE)
#include <string>

std::string *copy_strings(PageStack *ps, const std::string *s);

std::string *copy_strings(PageStack *ps, const std::string *s)
{
    return push_array_copy(ps, std::string, s, 2);
}
#endif

#if defined(__cplusplus) && defined(NOT_COPYABLE_CURSOR)
#include <vector>

std::vector<int> *copy_vectors(PageStackCursor *c, const std::vector<int> *v);

std::vector<int> *copy_vectors(PageStackCursor *c, const std::vector<int> *v)
{
    return cursor_push_array_copy(c, std::vector<int>, v, 2);
}
#endif

#if defined(__cplusplus) && defined(NOT_COPYABLE_HPP)
#include "frame_arena.hpp"

#include <string>

std::string *copy_strings_through(frame_arena::Cursor &out, const std::string *s);

std::string *copy_strings_through(frame_arena::Cursor &out, const std::string *s)
{
    return out.push_copy(s, 2);
}
#endif
