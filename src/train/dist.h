// A thin communicator for data-parallel training. With MPI (built with HARPE_HAVE_MPI and started
// by mpirun) it wraps MPI_COMM_WORLD; otherwise it is a single rank and every collective is a
// no-op. MPI is initialised lazily, only by init(), so programs that never train distributed
// (tests, inference) never touch MPI.
#pragma once

#include <cstddef>

namespace harpe::train::dist {

struct Comm {
  int rank = 0;
  int size = 1;
  int id = 0;  // which MPI communicator: 0 the world, >0 one made by split_consecutive()
  bool is_root() const { return rank == 0; }
};

// True when this build has MPI support (HARPE_MPI=ON at configure time).
bool built_with_mpi();
// Ranks the launcher announced in the environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE, ...); 1 if
// none. Works in builds without MPI, so they can refuse an mpirun launch instead of silently
// running R copies of the same single-rank job.
int launcher_world_size();

// Initialises MPI when launched by an MPI launcher (or when `require` is set) and returns the
// world; idempotent. Throws harpe::Error when `require` is set or the launcher started several
// ranks but this build has no MPI. MPI_Finalize runs at exit.
const Comm& init(bool require = false);
// The world after init(); a single rank before it.
const Comm& world();

// In-place sums over all ranks (no-ops on one rank). Every rank gets the same result.
void allreduce_sum(float* data, std::size_t n);
void allreduce_sum(double* data, std::size_t n);
void barrier();

// Context parallel: the world cut into groups of `group_size` consecutive ranks (world ranks
// [g * group_size, (g + 1) * group_size) form group g); returns this rank's group. Collective
// over the world. On one rank (or group_size 1) it returns a single-rank group.
Comm split_consecutive(int group_size);

// Ring shift inside `c`: sends n floats from `send` to rank (rank + 1) % size and receives n
// floats from rank (rank - 1 + size) % size into `recv` (distinct buffers). On one rank it
// copies send to recv. ring_shift_start/ring_shift_wait are the non-blocking pair, so that the
// transfer runs while the caller computes; up to 4 shifts may be in flight at once (each its
// own stream, in the same order on every rank). Neither buffer may be touched until the wait.
struct Shift {
  int slot = -1;  // -1: nothing in flight
};
void ring_shift(const Comm& c, const float* send, float* recv, std::size_t n);
Shift ring_shift_start(const Comm& c, const float* send, float* recv, std::size_t n);
void ring_shift_wait(Shift& s);
// Ends the whole job with exit code `code` (MPI_Abort on several ranks; std::exit otherwise).
[[noreturn]] void abort_all(int code);

}  // namespace harpe::train::dist
