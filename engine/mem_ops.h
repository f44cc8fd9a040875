/* mem_ops: zeroing and copying for arena blocks.
 *
 * The arena knows things memset and memcpy cannot: a block starts on a
 * 16-byte boundary, and the bytes up to the next 16-byte boundary past it are
 * committed, so it can clear whole 16-byte units, and copy them as long as
 * the copy stays inside the destination block (page_stack.c decides).
 * For small blocks that saves the call and the size dispatch of the C
 * library; for large ones the C library's vector loops win, so above
 * FA_MEM_INLINE_MAX these hand over to memset / memcpy. The threshold comes
 * from `frame_bench --memops` (docs/BENCHMARKS.md has the table and the
 * command); without SSE2 everything goes to the C library.
 *
 *     fa_zero16(p, n);          p 16-aligned, n a multiple of 16
 *     fa_copy16(dst, src, n);   both 16-aligned, n a multiple of 16, no overlap
 */
#ifndef FRAME_ARENA_MEM_OPS_H
#define FRAME_ARENA_MEM_OPS_H

#include <stddef.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define FA_MEM_SSE2 1
#else
#define FA_MEM_SSE2 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks up to this many bytes are handled inline; larger ones by the C
 * library, whose vector code takes fewer instructions from 64 B up. */
#define FA_MEM_INLINE_MAX 32

/* C casts, as in page_stack.h: not a C++ game's -Wold-style-cast's business. */
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#endif

static inline void fa_zero16(void *p, size_t n)
{
#if FA_MEM_SSE2
    if (n <= FA_MEM_INLINE_MAX) {
        __m128i zero = _mm_setzero_si128();
        if (n)
            _mm_store_si128((__m128i *)p, zero);
        if (n > 16)
            _mm_store_si128((__m128i *)p + 1, zero);
        return;
    }
#endif
    memset(p, 0, n);
}

static inline void fa_copy16(void *dst, const void *src, size_t n)
{
#if FA_MEM_SSE2
    if (n <= FA_MEM_INLINE_MAX) {
        if (n)
            _mm_store_si128((__m128i *)dst, _mm_load_si128((const __m128i *)src));
        if (n > 16)
            _mm_store_si128((__m128i *)dst + 1, _mm_load_si128((const __m128i *)src + 1));
        return;
    }
#endif
    memcpy(dst, src, n);
}

#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic pop
#endif

#ifdef __cplusplus
}
#endif

#endif
