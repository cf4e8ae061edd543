// Transparent huge pages for the memory that decoding streams once per token (weights, KV cache).
// Decoding one token of the tiny preset reads ~20 MB of weights and, at a 4k context, ~17 MB of
// cache: more than the L3 holds, so it runs at memory bandwidth, and with 4 KiB pages in a VM
// (nested page walks) that bandwidth is about half of what 2 MiB pages give (docs/engine.md,
// "Decoding speed").
#pragma once

#include <cstddef>

namespace harpe::infer {

// Asks the kernel to back the whole 2 MiB pages inside [p, p + bytes) with huge pages: marks the
// range MADV_HUGEPAGE and collapses what is already populated (MADV_COLLAPSE, Linux >= 6.1).
// A hint only: contents are unchanged, failures (older kernels, THP disabled, no Linux) are
// ignored, ranges without a whole aligned 2 MiB page are left alone. Returns true when both
// calls succeeded (for tests and reports).
bool advise_huge_pages(const void* p, std::size_t bytes);

}  // namespace harpe::infer
