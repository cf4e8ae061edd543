#include "train/dist.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

#ifdef HARPE_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <vector>
#endif

namespace harpe::train::dist {

namespace {
Comm g_world;
bool g_init = false;

#ifdef HARPE_HAVE_MPI
std::vector<MPI_Comm> g_comms;  // communicators of split_consecutive(); Comm::id - 1 indexes it
constexpr int kShiftSlots = 4;
MPI_Request g_shift[kShiftSlots][2] = {{MPI_REQUEST_NULL, MPI_REQUEST_NULL},
                                       {MPI_REQUEST_NULL, MPI_REQUEST_NULL},
                                       {MPI_REQUEST_NULL, MPI_REQUEST_NULL},
                                       {MPI_REQUEST_NULL, MPI_REQUEST_NULL}};

MPI_Comm mpi_comm(const Comm& c) {
  if (c.id == 0) return MPI_COMM_WORLD;
  check(c.id > 0 && static_cast<std::size_t>(c.id) <= g_comms.size(), "dist: unknown communicator ",
        c.id);
  return g_comms[static_cast<std::size_t>(c.id) - 1];
}

int shift_count(std::size_t n) {
  check(n <= static_cast<std::size_t>(1) << 30, "dist: ring shift of ", n,
        " floats is larger than one MPI message supports here");
  return static_cast<int>(n);
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// MPI counts are int: send large arenas in pieces.
template <class T>
void allreduce_chunks(T* data, std::size_t n, MPI_Datatype type) {
  constexpr std::size_t chunk = std::size_t{1} << 28;
  for (std::size_t off = 0; off < n; off += chunk) {
    const int c = static_cast<int>(std::min(chunk, n - off));
    const int rc = MPI_Allreduce(MPI_IN_PLACE, data + off, c, type, MPI_SUM, MPI_COMM_WORLD);
    check(rc == MPI_SUCCESS, "MPI_Allreduce failed (code ", rc, ")");
  }
}
#endif
}  // namespace

bool built_with_mpi() {
#ifdef HARPE_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int launcher_world_size() {
  for (const char* key : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"}) {
    const char* v = std::getenv(key);
    if (v && *v) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

const Comm& init(bool require) {
  if (g_init) return g_world;
  const int launched = launcher_world_size();
#ifdef HARPE_HAVE_MPI
  if (launched > 1 || require || std::getenv("OMPI_COMM_WORLD_RANK")) {
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
      int provided = 0;
      // Only the main thread calls MPI (OpenMP regions do not).
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
            "MPI_Init_thread failed");
      std::atexit(finalize_at_exit);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  }
#else
  check(!require && launched == 1,
        "this harpe was built without MPI (configure with -DHARPE_MPI=ON "
        "after installing libopenmpi-dev), so it cannot train on ",
        launched > 1 ? launched : 2, " ranks; run it without mpirun");
#endif
  g_init = true;
  return g_world;
}

const Comm& world() { return g_world; }

void allreduce_sum(float* data, std::size_t n) {
  if (g_world.size == 1) return;
#ifdef HARPE_HAVE_MPI
  allreduce_chunks(data, n, MPI_FLOAT);
#else
  (void)data;
  (void)n;
#endif
}

void allreduce_sum(double* data, std::size_t n) {
  if (g_world.size == 1) return;
#ifdef HARPE_HAVE_MPI
  allreduce_chunks(data, n, MPI_DOUBLE);
#else
  (void)data;
  (void)n;
#endif
}

void barrier() {
#ifdef HARPE_HAVE_MPI
  if (g_world.size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

Comm split_consecutive(int group_size) {
  check(group_size >= 1 && g_world.size % group_size == 0, "dist: group size ", group_size,
        " does not divide the ", g_world.size, " ranks");
  if (group_size == 1 || g_world.size == 1) return Comm{};
#ifdef HARPE_HAVE_MPI
  MPI_Comm sub = MPI_COMM_NULL;
  const int rc = MPI_Comm_split(MPI_COMM_WORLD, g_world.rank / group_size, g_world.rank, &sub);
  check(rc == MPI_SUCCESS, "MPI_Comm_split failed (code ", rc, ")");
  g_comms.push_back(sub);
  Comm c;
  MPI_Comm_rank(sub, &c.rank);
  MPI_Comm_size(sub, &c.size);
  c.id = static_cast<int>(g_comms.size());
  return c;
#else
  return Comm{};
#endif
}

Shift ring_shift_start(const Comm& c, const float* send, float* recv, std::size_t n) {
  if (c.size == 1) {
    std::memcpy(recv, send, n * sizeof(float));
    return Shift{};
  }
  Shift s;
#ifdef HARPE_HAVE_MPI
  for (int i = 0; i < kShiftSlots && s.slot < 0; ++i)
    if (g_shift[i][0] == MPI_REQUEST_NULL && g_shift[i][1] == MPI_REQUEST_NULL) s.slot = i;
  check(s.slot >= 0, "dist: more than ", kShiftSlots, " ring shifts in flight");
  const MPI_Comm comm = mpi_comm(c);
  const int count = shift_count(n);
  const int next = (c.rank + 1) % c.size, prev = (c.rank - 1 + c.size) % c.size;
  // Every rank starts and waits its shifts in the same order, so a stream gets the same slot on
  // every rank; the slot's tag keeps concurrent streams apart.
  const int tag = 77 + s.slot;
  int rc = MPI_Irecv(recv, count, MPI_FLOAT, prev, tag, comm, &g_shift[s.slot][0]);
  check(rc == MPI_SUCCESS, "MPI_Irecv failed (code ", rc, ")");
  rc = MPI_Isend(send, count, MPI_FLOAT, next, tag, comm, &g_shift[s.slot][1]);
  check(rc == MPI_SUCCESS, "MPI_Isend failed (code ", rc, ")");
#else
  (void)send;
  (void)recv;
  (void)n;
#endif
  return s;
}

void ring_shift_wait(Shift& s) {
  if (s.slot < 0) return;
#ifdef HARPE_HAVE_MPI
  const int rc = MPI_Waitall(2, g_shift[s.slot], MPI_STATUSES_IGNORE);
  check(rc == MPI_SUCCESS, "MPI_Waitall failed (code ", rc, ")");
#endif
  s.slot = -1;
}

void ring_shift(const Comm& c, const float* send, float* recv, std::size_t n) {
  Shift s = ring_shift_start(c, send, recv, n);
  ring_shift_wait(s);
}

void abort_all(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
#ifdef HARPE_HAVE_MPI
  if (g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace harpe::train::dist
