// cpp_bench: the standard containers a C++ game fills in a frame, on the
// allocators it could give them, side by side in one process, frames
// interleaved in a shuffled order (as frame_bench does for the C pushes).
//
// Competitors (each frame ends with what ends a frame for it):
//   stack_allocator  frame_arena::StackAllocator<T> on a page stack; reset
//   pmr_page_stack   std::pmr containers over frame_arena::PageStackResource; reset
//   pmr_monotonic    std::pmr::monotonic_buffer_resource over new/delete; release()
//   pmr_monotonic_buffer  the same, starting in an 8 MiB buffer of its own; release()
//   std_allocator    std::allocator (operator new and delete, glibc's malloc)
// Workloads:
//   vectors  200 std::vectors of ints, each grown by push_back (no reserve) to
//            a length from a fixed sequence, 0 to 255 (25,400 push_backs)
//   map      a std::map of 2,000 inserts (one node each), then 2,000 finds
//   lists    20 std::lists of 1,000 push_backs each (one node each), then a sum
//            over them: the allocator's share of the work is the largest here
//   objects  10,000 objects whose destructor does work, each built on its own
//            and kept by pointer, then destroyed: frame_arena::push_new (the
//            reset runs the destructors), an allocator's allocate and
//            construct with each destructor called by hand (std::pmr), or
//            new and delete (std_allocator)
//   arrays   2,000 arrays of 5 such objects, each array value-initialised,
//            then given its values, and kept by pointer, then destroyed:
//            frame_arena::push_new_array (the reset runs the destructors), an
//            allocator's allocate and a construct of each element with each
//            destructor called by hand (std::pmr), or new[] and delete[]
//            (std_allocator)
//
//     cpp_bench [--quick] [--rounds N]       the table: median and p10 per frame,
//                                            ratios to stack_allocator
//     cpp_bench --check                      TAP: every competitor computes the same
//                                            sums; no page fault in a steady frame of
//                                            the two page stacks
//     cpp_bench --only NAME --workload W [--warm K] --frames N
//                                            K frames of one, then N, untimed; under
//                                            callgrind with --collect-atstart=no it
//                                            counts the N alone (bench/cpp_ir.py)
#include "frame_arena.hpp"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define CPP_BENCH_CALLGRIND 1
#endif
#endif

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <list>
#include <map>
#include <memory_resource>
#include <random>
#include <vector>

#include <sys/resource.h>

namespace {

constexpr int kVectors = 200;
constexpr int kMapEntries = 2000;
constexpr int kLists = 20, kListLength = 1000;
constexpr int kObjects = 10000;
constexpr int kArrays = 2000, kArrayLength = 5;

int lengths[kVectors];
uint32_t keys[kMapEntries];

void make_inputs()
{
    uint32_t x = 0x2545F491u;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    };
    for (int &n : lengths)
        n = static_cast<int>(next() % 256);
    for (uint32_t &k : keys)
        k = next();
}

// Each competitor: alloc() gives an allocator of int for a container,
// end_frame() ends the frame.
struct StackAlloc {
    PageStack *ps = page_stack_create(nullptr);
    ~StackAlloc() { page_stack_destroy(ps); }
    frame_arena::StackAllocator<int> alloc() { return frame_arena::StackAllocator<int>(ps); }
    void end_frame() { page_stack_reset(ps); }
};

struct PmrPageStack {
    PageStack *ps = page_stack_create(nullptr);
    frame_arena::PageStackResource resource{ps};
    ~PmrPageStack() { page_stack_destroy(ps); }
    std::pmr::polymorphic_allocator<int> alloc() { return &resource; }
    void end_frame() { page_stack_reset(ps); }
};

struct PmrMonotonic {
    std::pmr::monotonic_buffer_resource resource{std::pmr::new_delete_resource()};
    std::pmr::polymorphic_allocator<int> alloc() { return &resource; }
    void end_frame() { resource.release(); }
};

struct PmrMonotonicBuffer {
    std::vector<unsigned char> buffer = std::vector<unsigned char>(8 << 20);
    std::pmr::monotonic_buffer_resource resource{buffer.data(), buffer.size(), std::pmr::new_delete_resource()};
    std::pmr::polymorphic_allocator<int> alloc() { return &resource; }
    void end_frame() { resource.release(); } // back to the start of the buffer
};

struct StdAlloc {
    std::allocator<int> alloc() { return {}; }
    void end_frame() {}
};

template <class C>
uint64_t vectors_frame(C &c)
{
    using Alloc = decltype(c.alloc());
    uint64_t sum = 0;
    for (int v = 0; v < kVectors; v++) {
        std::vector<int, Alloc> xs(c.alloc());
        for (int i = 0; i < lengths[v]; i++)
            xs.push_back(i ^ v);
        sum += xs.size() + (xs.empty() ? 0u : static_cast<uint64_t>(xs.back()));
    }
    c.end_frame();
    return sum;
}

template <class C>
uint64_t map_frame(C &c)
{
    using Entry = std::pair<const uint32_t, uint32_t>;
    using Alloc = typename std::allocator_traits<decltype(c.alloc())>::template rebind_alloc<Entry>;
    uint64_t sum = 0;
    {
        std::map<uint32_t, uint32_t, std::less<uint32_t>, Alloc> map{Alloc(c.alloc())};
        for (int i = 0; i < kMapEntries; i++)
            map[keys[i]] = static_cast<uint32_t>(i);
        for (int i = kMapEntries - 1; i >= 0; i--)
            sum += map.find(keys[i])->second;
        sum += map.size();
    }
    c.end_frame();
    return sum;
}

template <class C>
uint64_t lists_frame(C &c)
{
    using Alloc = decltype(c.alloc());
    using List = std::list<int, Alloc>;
    using ListsAlloc = typename std::allocator_traits<Alloc>::template rebind_alloc<List>;
    uint64_t sum = 0;
    {
        std::vector<List, ListsAlloc> lists{ListsAlloc(c.alloc())};
        lists.reserve(kLists);
        for (int l = 0; l < kLists; l++) {
            lists.push_back(List(c.alloc())); // (pmr's uses-allocator construction takes it so too)
            for (int i = 0; i < kListLength; i++)
                lists.back().push_back(i + l);
        }
        for (const auto &list : lists)
            for (int x : list)
                sum += static_cast<uint64_t>(x);
    }
    c.end_frame();
    return sum;
}

// An object a frame builds and destroys: its destructor adds to the frame's
// sum, so that every destructor must run, and run once, for the sums to agree.
struct Obj {
    uint64_t key, value, *sum;
    Obj(uint64_t k, uint64_t v, uint64_t *s) : key(k), value(v), sum(s) {}
    Obj(const Obj &) = delete;
    Obj &operator=(const Obj &) = delete;
    ~Obj() { *sum += key ^ value; }
};

Obj *objects[kObjects]; // the frame keeps a pointer to each, as a game would

// std::pmr: an allocator's allocate and construct; the resource runs no
// destructor, so the frame calls each, newest first, before it ends.
template <class C>
Obj *new_object(C &c, uint64_t key, uint64_t value, uint64_t *sum)
{
    std::pmr::polymorphic_allocator<Obj> alloc(c.alloc());
    Obj *object = alloc.allocate(1);
    alloc.construct(object, key, value, sum);
    return object;
}

template <class C>
void delete_objects(C &)
{
    for (int i = kObjects; i-- > 0;)
        objects[i]->~Obj();
}

// The page stack: push_new, whose cleanup record has the reset run the
// destructor.
Obj *new_object(StackAlloc &c, uint64_t key, uint64_t value, uint64_t *sum)
{
    return frame_arena::push_new<Obj>(c.ps, key, value, sum);
}

void delete_objects(StackAlloc &) {}

// new and delete, newest first.
Obj *new_object(StdAlloc &, uint64_t key, uint64_t value, uint64_t *sum) { return new Obj(key, value, sum); }

void delete_objects(StdAlloc &)
{
    for (int i = kObjects; i-- > 0;)
        delete objects[i];
}

template <class C>
uint64_t objects_frame(C &c)
{
    uint64_t sum = 0;
    for (int i = 0; i < kObjects; i++)
        objects[i] = new_object(c, keys[i % kMapEntries], static_cast<uint64_t>(i), &sum);
    delete_objects(c);
    c.end_frame(); // the page stack's reset runs its destructors here
    return sum;
}

// An element of an array a frame builds: value-initialised, then given the
// values an Obj gets from its constructor; its destructor adds as Obj's does.
struct Elem {
    uint64_t key = 0, value = 0, *sum = nullptr;
    ~Elem() { *sum += key ^ value; }
};

Elem *arrays[kArrays];

// std::pmr: allocate, then construct each element; the frame destroys them.
template <class C>
Elem *new_array(C &c)
{
    std::pmr::polymorphic_allocator<Elem> alloc(c.alloc());
    Elem *first = alloc.allocate(kArrayLength);
    for (int j = 0; j < kArrayLength; j++)
        alloc.construct(first + j);
    return first;
}

template <class C>
void delete_arrays(C &)
{
    for (int i = kArrays; i-- > 0;)
        for (int j = kArrayLength; j-- > 0;)
            arrays[i][j].~Elem();
}

// The page stack: push_new_array, whose record has the reset destroy the
// elements.
Elem *new_array(StackAlloc &c) { return frame_arena::push_new_array<Elem>(c.ps, kArrayLength); }

void delete_arrays(StackAlloc &) {}

// new[] and delete[], newest first.
Elem *new_array(StdAlloc &) { return new Elem[kArrayLength](); }

void delete_arrays(StdAlloc &)
{
    for (int i = kArrays; i-- > 0;)
        delete[] arrays[i];
}

template <class C>
uint64_t arrays_frame(C &c)
{
    uint64_t sum = 0;
    for (int i = 0; i < kArrays; i++) {
        Elem *a = arrays[i] = new_array(c);
        for (int j = 0; j < kArrayLength; j++) {
            int n = i * kArrayLength + j; // the objects frame's keys and values
            a[j].key = keys[n % kMapEntries];
            a[j].value = static_cast<uint64_t>(n);
            a[j].sum = &sum;
        }
    }
    delete_arrays(c);
    c.end_frame();
    return sum;
}

constexpr int kWorkloadCount = 5;

struct Competitor {
    const char *name;
    void *state;
    uint64_t (*frame[kWorkloadCount])(void *state);
    void (*destroy)(void *state);
};

template <class C>
Competitor make(const char *name)
{
    return Competitor{name,
                      new C(),
                      {[](void *s) { return vectors_frame(*static_cast<C *>(s)); },
                       [](void *s) { return map_frame(*static_cast<C *>(s)); },
                       [](void *s) { return lists_frame(*static_cast<C *>(s)); },
                       [](void *s) { return objects_frame(*static_cast<C *>(s)); },
                       [](void *s) { return arrays_frame(*static_cast<C *>(s)); }},
                      [](void *s) { delete static_cast<C *>(s); }};
}

struct Competitors : std::vector<Competitor> {
    using std::vector<Competitor>::vector;
    ~Competitors()
    {
        for (Competitor &c : *this)
            c.destroy(c.state);
    }
};

const char *const kWorkloads[kWorkloadCount] = {"vectors", "map", "lists", "objects", "arrays"};

Competitors competitors()
{
    return {make<StackAlloc>("stack_allocator"), make<PmrPageStack>("pmr_page_stack"),
            make<PmrMonotonic>("pmr_monotonic"), make<PmrMonotonicBuffer>("pmr_monotonic_buffer"),
            make<StdAlloc>("std_allocator")};
}

uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

long minor_faults()
{
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

double percentile(std::vector<uint64_t> v, double q)
{
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))]);
}

int check()
{
    Competitors all = competitors();
    int n = 0, failed = 0;
    std::printf("TAP version 13\n1..%d\n", kWorkloadCount + 2);
    for (int w = 0; w < kWorkloadCount; w++) {
        uint64_t want = all[0].frame[w](all[0].state);
        bool same = true;
        for (Competitor &c : all)
            for (int f = 0; f < 3; f++)
                if (c.frame[w](c.state) != want) {
                    std::printf("# %s: %s's frame %d gave another sum\n", kWorkloads[w], c.name, f);
                    same = false;
                }
        failed += !same;
        std::printf("%s %d - %s: every competitor computes the same sum (%" PRIu64 ")\n", same ? "ok" : "not ok", ++n,
                    kWorkloads[w], want);
    }
    for (int c = 0; c < 2; c++) { // the two over page stacks
        long faults = 0;
        for (int w = 0; w < kWorkloadCount; w++) {
            for (int f = 0; f < 10; f++) // warm: the stack has committed what a frame needs
                all[static_cast<size_t>(c)].frame[w](all[static_cast<size_t>(c)].state);
            long before = minor_faults();
            for (int f = 0; f < 50; f++)
                all[static_cast<size_t>(c)].frame[w](all[static_cast<size_t>(c)].state);
            faults += minor_faults() - before;
        }
        failed += faults != 0;
        std::printf("%s %d - %s: %ld page faults in %d steady frames\n", faults ? "not ok" : "ok", ++n,
                    all[static_cast<size_t>(c)].name, faults, 50 * kWorkloadCount);
    }
    return failed ? 1 : 0;
}

int race(int rounds)
{
    Competitors all = competitors();
    std::mt19937 rng(12345);
    std::printf("cpp_bench: %d rounds per workload; each round runs one frame of every competitor in a new random "
                "order\n",
                rounds);
    for (int w = 0; w < kWorkloadCount; w++) {
        std::vector<std::vector<uint64_t>> times(all.size());
        std::vector<size_t> order(all.size());
        for (size_t i = 0; i < order.size(); i++)
            order[i] = i;
        for (int r = -20; r < rounds; r++) { // 20 rounds of warm-up
            std::shuffle(order.begin(), order.end(), rng);
            for (size_t i : order) {
                uint64_t t0 = now_ns();
                all[i].frame[w](all[i].state);
                uint64_t t1 = now_ns();
                if (r >= 0)
                    times[i].push_back(t1 - t0);
            }
        }
        double ours = percentile(times[0], 0.5), ours10 = percentile(times[0], 0.1);
        std::printf("\n%s (ns per frame; ratio = median / stack_allocator's median, p10 ratio likewise)\n",
                    kWorkloads[w]);
        std::printf("  %-22s %10s %10s %8s %9s\n", "competitor", "median", "p10", "ratio", "p10 ratio");
        for (size_t i = 0; i < all.size(); i++) {
            double med = percentile(times[i], 0.5), p10 = percentile(times[i], 0.1);
            std::printf("  %-22s %10.0f %10.0f %8.2f %9.2f\n", all[i].name, med, p10, med / ours, p10 / ours10);
        }
    }
    return 0;
}

// Callgrind's collection on or off (nothing outside valgrind): only the
// frames measured are counted.
void toggle_collect()
{
#ifdef CPP_BENCH_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
#endif
}

int only(const char *name, const char *workload, long warm, long frames)
{
    Competitors all = competitors();
    for (Competitor &c : all)
        for (int w = 0; w < kWorkloadCount; w++)
            if (!std::strcmp(c.name, name) && !std::strcmp(kWorkloads[w], workload)) {
                uint64_t sum = 0;
                for (long f = 0; f < warm; f++)
                    sum += c.frame[w](c.state);
                toggle_collect();
                for (long f = 0; f < frames; f++)
                    sum += c.frame[w](c.state);
                toggle_collect();
                std::printf("%s %s: %ld frames and %ld, sum %" PRIu64 "\n", name, workload, warm, frames, sum);
                return 0;
            }
    std::fprintf(stderr, "cpp_bench: no competitor %s or workload %s\n", name, workload);
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    make_inputs();
    int rounds = 400;
    const char *name = nullptr, *workload = "vectors";
    long frames = 100, warm = 0;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (!std::strcmp(argv[i], "--check"))
            return check();
        if (!std::strcmp(argv[i], "--quick"))
            rounds = 100;
        else if (!std::strcmp(argv[i], "--rounds") && more)
            rounds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--only") && more)
            name = argv[++i];
        else if (!std::strcmp(argv[i], "--workload") && more)
            workload = argv[++i];
        else if (!std::strcmp(argv[i], "--frames") && more)
            frames = std::atol(argv[++i]);
        else if (!std::strcmp(argv[i], "--warm") && more)
            warm = std::atol(argv[++i]);
        else {
            std::fprintf(stderr, "usage: cpp_bench [--quick | --rounds N | --check | --only NAME [--workload "
                                 "vectors|map|lists|objects|arrays] [--warm K] [--frames N]]\n");
            return 2;
        }
    }
    if (rounds <= 0 || frames <= 0 || warm < 0) {
        std::fprintf(stderr, "cpp_bench: rounds and frames must be above 0, warm frames at least 0\n");
        return 2;
    }
    // glibc reads it at the program's start: with it (1 to 255; glibc ignores other values), operator new's
    // blocks are filled as they are handed out and taken back, and std_allocator's frames would be counted or
    // timed with the fills.
    const char *perturb = std::getenv("MALLOC_PERTURB_");
    long byte = perturb ? std::strtol(perturb, nullptr, 0) : 0;
    if (byte >= 1 && byte <= 255) {
        std::fprintf(stderr, "cpp_bench: MALLOC_PERTURB_=%s is set: glibc would fill every block it hands out and "
                             "takes back, and std_allocator's figures would include the fills; unset it "
                             "(bench/cpp_ir.py does)\n",
                     perturb);
        return 2;
    }
    return name ? only(name, workload, warm, frames) : race(rounds);
}
