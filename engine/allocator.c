/* allocator: the page stack adapter (see allocator.h). */
#include "allocator.h"

#include "os_vm.h"

static void *stack_alloc(void *user, size_t size, size_t align)
{
    return page_stack_try_push(user, size, align);
}

static void *stack_realloc(void *user, void *ptr, size_t old_size, size_t new_size, size_t align)
{
    return page_stack_try_realloc(user, ptr, old_size, new_size, align);
}

static void stack_free(void *user, void *ptr, size_t size)
{
    if (size)
        page_stack_free_last(user, ptr, size);
}

Allocator page_stack_allocator(PageStack *ps)
{
    /* Caught here rather than at the first allocation, whose inline push would fault. */
    if (!ps)
        os_vm_fatal("page_stack_allocator: the stack is NULL; pass a stack from page_stack_create");
    return (Allocator){stack_alloc, stack_realloc, stack_free, ps};
}
