#pragma once

#include <napi.h>

#include <memory>

#include "algorithm.h"

namespace pqc {

// The JS object for one Algorithm: `new Algorithm('kem' | 'sig', name)`, with the sizes as
// properties, `run(op, ...operands)` on the calling thread and
// `runAsync(op, count, workers, ...inputs)` spread over the libuv pool.
class AlgorithmHandle : public Napi::ObjectWrap<AlgorithmHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit AlgorithmHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value RunAsync(const Napi::CallbackInfo& info);
  const OpShape& RequireOp(Napi::Env env, const Napi::Value& value) const;

  std::shared_ptr<const Algorithm> algorithm_;
};

}  // namespace pqc
