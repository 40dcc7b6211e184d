// Pooled execution: inputs are copied on the main thread, outputs are allocated there too, and
// `workers` libuv work items run the items, each taking the next one until none is left.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "algorithm.h"

namespace pqc {

// `inputs[i]` is either one Uint8Array used by every item or an Array of `count` of them.
// Resolves with [outputs[0]: Uint8Array, outputs[1]: Uint8Array, values: Float64Array,
// secret: boolean[]], output k holding the `count` items end to end.
Napi::Promise RunBatch(Napi::Env env, std::shared_ptr<const Algorithm> algorithm, int op,
                       uint32_t count, uint32_t workers, const std::vector<Napi::Value>& inputs);

}  // namespace pqc
