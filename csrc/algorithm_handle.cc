#include "algorithm_handle.h"

#include "batch.h"
#include "liboqs.h"

namespace pqc {

// A batch beyond this is better split by the caller: its inputs are copied up front.
constexpr uint32_t kMaxBatch = 1u << 20;
constexpr uint32_t kMaxWorkers = 1024;

Napi::Function AlgorithmHandle::Define(Napi::Env env) {
  return DefineClass(env, "Algorithm",
                     {InstanceMethod<&AlgorithmHandle::Run>("run"),
                      InstanceMethod<&AlgorithmHandle::RunAsync>("runAsync")});
}

AlgorithmHandle::AlgorithmHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<AlgorithmHandle>(info) {
  Napi::Env env = info.Env();
  const Liboqs* lib = ActiveLiboqs();
  if (lib == nullptr) ThrowPqc(env, "ERR_PQC_LIBOQS_NOT_LOADED", "liboqs is not loaded");
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsString()) {
    ThrowInvalid(env, "Algorithm expects (family: 'kem' | 'sig', name: string)");
  }
  const std::string family = info[0].As<Napi::String>();
  const std::string name = info[1].As<Napi::String>();
  if (family == "kem") {
    algorithm_ = NewKem(env, *lib, name);
  } else if (family == "sig") {
    algorithm_ = NewSig(env, *lib, name);
  } else {
    ThrowInvalid(env, "family must be 'kem' or 'sig'");
  }
  // Sizes come from liboqs itself, as the outputs of keypair/encaps/sign.
  Napi::Object self = info.This().As<Napi::Object>();
  const int first = family == "kem" ? kKemKeypair : kSigKeypair;
  const OpShape& keypair = algorithm_->Shape(first);
  self.Set("publicKeyLength", Napi::Number::New(env, keypair.out[0].length));
  self.Set("secretKeyLength", Napi::Number::New(env, keypair.out[1].length));
  if (family == "kem") {
    const OpShape& encaps = algorithm_->Shape(kKemEncaps);
    self.Set("ciphertextLength", Napi::Number::New(env, encaps.out[0].length));
    self.Set("sharedSecretLength", Napi::Number::New(env, encaps.out[1].length));
    // 0 when this algorithm or the loaded liboqs cannot take a seed.
    const OpShape& keypair_derand = algorithm_->Shape(kKemKeypairDerand);
    const OpShape& encaps_derand = algorithm_->Shape(kKemEncapsDerand);
    self.Set("keypairSeedLength",
             Napi::Number::New(env, keypair_derand.supported ? keypair_derand.in[0].length : 0));
    self.Set("encapsSeedLength",
             Napi::Number::New(env, encaps_derand.supported ? encaps_derand.in[1].length : 0));
  } else {
    self.Set("signatureLength",
             Napi::Number::New(env, algorithm_->Shape(kSigSign).out[0].length));
    // csrc/sig.cc bounds the context at 0 bytes for a scheme that takes none.
    self.Set("contextSupported", algorithm_->Shape(kSigSign).in[2].max_length > 0);
  }
}

const OpShape& AlgorithmHandle::RequireOp(Napi::Env env, const Napi::Value& value) const {
  const uint32_t op = RequireCount(env, value, "op", 0, kOpCount - 1);
  const OpShape& shape = algorithm_->Shape(static_cast<int>(op));
  if (shape.inputs == 0 && shape.outputs == 0) {
    ThrowInvalid(env, "op " + std::to_string(op) + " does not apply to " + algorithm_->name());
  }
  if (!shape.supported) {
    ThrowPqc(env, "ERR_PQC_UNSUPPORTED_CAPABILITY",
             algorithm_->name() + ": " + shape.unsupported_reason);
  }
  return shape;
}

Napi::Value AlgorithmHandle::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) ThrowInvalid(env, "run expects (op, ...operands)");
  const OpShape& shape = RequireOp(env, info[0]);
  const int op = info[0].As<Napi::Number>().Int32Value();
  if (info.Length() != static_cast<size_t>(1 + shape.inputs + shape.outputs)) {
    ThrowInvalid(env, algorithm_->name() + ": expected " +
                          std::to_string(shape.inputs + shape.outputs) + " operands, got " +
                          std::to_string(info.Length() - 1));
  }
  Bytes in[kMaxInputs];
  uint8_t* out[kMaxOutputs] = {};
  for (int i = 0; i < shape.inputs; i++) {
    in[i] = RequireBytes(env, info[1 + i], shape.in[i].name, shape.in[i].length,
                         shape.in[i].max_length);
  }
  for (int i = 0; i < shape.outputs; i++) {
    out[i] = RequireBytes(env, info[1 + shape.inputs + i], shape.out[i].name,
                          shape.out[i].length)
                 .data;
  }
  const int64_t value = algorithm_->Execute(op, in, out);
  if (value == kFailed) {
    ThrowPqc(env, "ERR_PQC_OPERATION_FAILED", algorithm_->name() + ": liboqs reported an error");
  }
  return Napi::Number::New(env, static_cast<double>(value));
}

Napi::Value AlgorithmHandle::RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) ThrowInvalid(env, "runAsync expects (op, count, workers, ...inputs)");
  const OpShape& shape = RequireOp(env, info[0]);
  const int op = info[0].As<Napi::Number>().Int32Value();
  const uint32_t count = RequireCount(env, info[1], "count", 1, kMaxBatch);
  const uint32_t workers = RequireCount(env, info[2], "workers", 1, kMaxWorkers);
  if (info.Length() != static_cast<size_t>(3 + shape.inputs)) {
    ThrowInvalid(env, algorithm_->name() + ": expected " + std::to_string(shape.inputs) +
                          " inputs, got " + std::to_string(info.Length() - 3));
  }
  std::vector<Napi::Value> inputs;
  for (int i = 0; i < shape.inputs; i++) inputs.push_back(info[3 + i]);
  return RunBatch(env, algorithm_, op, count, workers, inputs);
}

}  // namespace pqc
