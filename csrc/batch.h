// Pooled execution: inputs are copied on the main thread, outputs are allocated there too, and
// `workers` libuv work items run the items, each taking the next one until none is left.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "algorithm.h"

namespace pqc {

// `inputs[i]` is either one Uint8Array used by every item or an Array of `count` of them.
// Resolves with [outputs[0], outputs[1], values: Float64Array]: a public output is a Uint8Array
// holding the `count` items end to end, a secret one an Array of `count` ArrayBuffers.
Napi::Promise RunBatch(Napi::Env env, std::shared_ptr<const Algorithm> algorithm, int op,
                       uint32_t count, uint32_t workers, const std::vector<Napi::Value>& inputs);

}  // namespace pqc
