// The needle grid through a generator (`harpe eval needle`): the cells' prompts are generated once
// (generate_needle_grid), answered `jobs` at a time, then scored by run_needle_grid.
#pragma once

#include <functional>
#include <vector>

#include "eval/needle_grid.h"
#include "eval/run_ruler.h"

namespace harpe::eval {

NeedleGrid run_needle(
    const NeedleGridSpec& spec, const GenOptions& options, int jobs,
    const GeneratorFactory& make_generator, std::vector<Prediction>* predictions,
    const std::function<void(size_t done, size_t total, double seconds)>& progress);

}  // namespace harpe::eval
