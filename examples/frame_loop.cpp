// frame_loop.cpp: examples/frame_loop.c's game loop written with
// frame_arena.hpp, the C++ header.
//
// frame_arena::Frame begins each frame and ends it when it goes out of
// scope. The particles are carried to the next frame as a plain array in
// frame memory, which stays valid while that frame runs. A std::vector with
// frame_arena::StackAllocator gathers the sparks, whose count is not known
// ahead; it is destroyed inside the frame, as a container in frame memory
// must be. A Cursor pushes four vertices per particle, push_new builds an
// object with a destructor (it runs when the frame's buffer is reset), and
// a ScratchScope holds a debug line. It builds with exceptions off too.
//
//     frame_loop_cpp [frames]        (default 600)
#include "frame_arena.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Particle {
    float x, y, vx, vy;
};

struct Vertex {
    float x, y;
    uint32_t color;
};

template <class T>
using FrameVector = std::vector<T, frame_arena::StackAllocator<T>>;

long logs_destroyed = 0;

// A frame's summary, kept with the frame's data: its std::string is freed by
// the destructor, which the reset of the frame's buffer runs.
struct FrameLog {
    std::string text;
    ~FrameLog() { logs_destroyed++; }
};

uint32_t rng_state = 0x9E3779B9u;

float rnd()
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return static_cast<float>(rng_state & 0xFFFFFF) / static_cast<float>(0x1000000);
}

// Survivors of last frame plus new spawns, written into this frame's buffer.
Particle *step_particles(PageStack *frame, const Particle *prev, size_t prev_count, size_t spawn, size_t *out_count)
{
    Particle *next = push_array_no_zero(frame, Particle, prev_count + spawn);
    size_t n = 0;
    for (size_t i = 0; i < prev_count; i++) {
        Particle p = prev[i];
        p.vy += 0.01f;
        p.x += p.vx;
        p.y += p.vy;
        if (p.y < 1.0f)
            next[n++] = p;
    }
    for (size_t i = 0; i < spawn; i++)
        next[n++] = Particle{rnd(), 0.0f, (rnd() - 0.5f) * 0.01f, rnd() * 0.01f};
    *out_count = n;
    return next;
}

} // namespace

int main(int argc, char **argv)
{
    char *end = nullptr; // set only when there is an argument
    long frames = argc > 1 ? std::strtol(argv[1], &end, 10) : 600;
    if (frames <= 0 || (end && *end)) {
        std::fprintf(stderr, "usage: frame_loop_cpp [frames]   (frames > 0)\n");
        return 2;
    }
    FrameArenaDesc desc{};
    desc.budget = 4 << 20;
    desc.trim_after = 120;
    FrameArena *fa = frame_arena_create(&desc);
    if (!fa) {
        std::fprintf(stderr, "frame_loop_cpp: cannot make the frame arena: %s\n",
                     page_stack_error_string(page_stack_create_error()));
        return 1;
    }
    const Particle *particles = nullptr; // last frame's, still valid in this one
    size_t count = 0, spark_count = 0;
    for (long f = 0; f < frames; f++) {
        {
            frame_arena::Frame frame(fa);
            PageStack *ps = frame.stack();

            // a burst every 200 frames shows the trim policy at work
            size_t spawn = (f % 200 == 100) ? 40000 : 400;
            particles = step_particles(ps, particles, count, spawn, &count);

            FrameVector<const Particle *> sparks{frame_arena::StackAllocator<const Particle *>(ps)};
            sparks.reserve(count / 16); // growth past it leaves the old storage to the reset
            for (size_t i = 0; i < count; i++)
                if (particles[i].y > 0.9f)
                    sparks.push_back(&particles[i]);
            std::sort(sparks.begin(), sparks.end(), [](const Particle *a, const Particle *b) { return a->y > b->y; });
            spark_count = sparks.size();

            Vertex *first = nullptr;
            {
                frame_arena::Cursor out(ps); // many pushes in one loop: the top stays in a register
                for (size_t i = 0; i < count; i++) {
                    Vertex *quad = out.push_uninit<Vertex>(4);
                    uint32_t color = static_cast<uint32_t>(particles[i].y * 65535.0f);
                    for (int k = 0; k < 4; k++)
                        quad[k] = Vertex{particles[i].x + 0.01f * static_cast<float>(k & 1),
                                         particles[i].y + 0.01f * static_cast<float>(k >> 1), color};
                    first = first ? first : quad;
                }
            }

            auto *log = frame_arena::push_new<FrameLog>(ps);
            log->text = "frame " + std::to_string(f) + ": " + std::to_string(count) + " particles, " +
                        std::to_string(spark_count) + " sparks, lowest at " +
                        std::to_string(sparks.empty() ? 0.0f : sparks.front()->y);

            frame_arena::ScratchScope tmp({ps}); // a scratch stack that is not the frame's
            const char *line = page_stack_printf(tmp.stack(), "%s; first vertex at %.3f", log->text.c_str(),
                                                 first ? static_cast<double>(first->x) : 0.0);
            if ((f + 1) % 300 == 0)
                std::puts(line);
        } // scratch_end, the vector's storage left to the reset, then frame_arena_end

        if ((f + 1) % 60 == 0) {
            FrameArenaStats st = frame_arena_stats(fa);
            std::printf("frame %4" PRIu64 "  particles %6zu  sparks %5zu  used %8zu  avg %8zu  max %8zu"
                        "  committed %9zu  trims %" PRIu64 "\n",
                        st.last.frame, count, spark_count, st.last.used, st.used_avg, st.used_max, st.committed,
                        st.trims);
        }
    }
    FrameArenaStats st = frame_arena_stats(fa);
    std::printf("%" PRIu64 " frames, all-time peak %zu bytes, committed %zu of %zu reserved, %" PRIu64
                " over budget, %" PRIu64 " trims\n",
                st.frames, st.peak_all_time, st.committed, st.reserved, st.budget_overruns, st.trims);
    long before_destroy = logs_destroyed;
    frame_arena_destroy(fa); // runs the destructors of the frames still in flight
    std::printf("frame logs destroyed: %ld at resets, %ld at destroy\n", before_destroy,
                logs_destroyed - before_destroy);
    // Two frames in flight: every reset but the first two destroyed one log, destroy the last two.
    bool ok = before_destroy == (frames > 2 ? frames - 2 : 0) && logs_destroyed == frames;
    return ok ? 0 : 1;
}
