#include "train/dist.h"

#include <cstdio>
#include <cstdlib>

#include "core/error.h"

#ifdef HARPE_HAVE_MPI
#include <mpi.h>
#include <algorithm>
#endif

namespace harpe::train::dist {

namespace {
Comm g_world;
bool g_init = false;

#ifdef HARPE_HAVE_MPI
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
  check(!require && launched == 1, "this harpe was built without MPI (configure with -DHARPE_MPI=ON "
        "after installing libopenmpi-dev), so it cannot train on ", launched > 1 ? launched : 2,
        " ranks; run it without mpirun");
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

void abort_all(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
#ifdef HARPE_HAVE_MPI
  if (g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace harpe::train::dist
