// Module entry: load(path) chooses the process's liboqs; status() and algorithms() describe it;
// Algorithm binds one KEM or signature scheme; x25519* (csrc/x25519.cc) serve the hybrid KEMs.
#include <napi.h>

#include "algorithm_handle.h"
#include "errors.h"
#include "liboqs.h"
#include "x25519.h"

namespace pqc {
namespace {

Napi::Value Status(Napi::Env env) {
  const Liboqs* lib = ActiveLiboqs();
  if (lib == nullptr) return env.Null();
  Napi::Object status = Napi::Object::New(env);
  status.Set("path", lib->path);
  status.Set("version", lib->version_string);
  status.Set("kemKeypairDerand", lib->kem_keypair_derand != nullptr);
  status.Set("kemEncapsDerand", lib->kem_encaps_derand != nullptr);
  status.Set("sigContext", lib->sig_sign_ctx != nullptr);
  return status;
}

Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) ThrowInvalid(env, "load expects (path: string)");
  std::string detail;
  switch (LoadLiboqs(info[0].As<Napi::String>(), &detail)) {
    case LoadResult::kLoaded:
      return Status(env);
    case LoadResult::kTooOld:
      ThrowPqc(env, "ERR_PQC_LIBOQS_TOO_OLD", detail);
    case LoadResult::kIncompatible:
      ThrowPqc(env, "ERR_PQC_LIBOQS_INCOMPATIBLE", detail);
    case LoadResult::kAlreadyLoaded:
      ThrowPqc(env, "ERR_PQC_LIBOQS_ALREADY_LOADED", detail);
    case LoadResult::kMissingSymbol:
    case LoadResult::kNotFound:
      break;
  }
  ThrowPqc(env, "ERR_PQC_LIBOQS_NOT_FOUND", detail);
}

Napi::Array EnabledNames(Napi::Env env, int (*count)(), const char* (*identifier)(size_t),
                         int (*enabled)(const char*)) {
  Napi::Array names = Napi::Array::New(env);
  for (int i = 0, n = count(); i < n; i++) {
    const char* name = identifier(static_cast<size_t>(i));
    if (name != nullptr && enabled(name)) names.Set(names.Length(), name);
  }
  return names;
}

Napi::Value Algorithms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Liboqs* lib = ActiveLiboqs();
  if (lib == nullptr) ThrowPqc(env, "ERR_PQC_LIBOQS_NOT_LOADED", "liboqs is not loaded");
  Napi::Object algorithms = Napi::Object::New(env);
  algorithms.Set("kems", EnabledNames(env, lib->kem_alg_count, lib->kem_alg_identifier,
                                      lib->kem_alg_is_enabled));
  algorithms.Set("sigs", EnabledNames(env, lib->sig_alg_count, lib->sig_alg_identifier,
                                      lib->sig_alg_is_enabled));
  return algorithms;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("load", Napi::Function::New(env, Load, "load"));
  exports.Set("status", Napi::Function::New(
                            env, [](const Napi::CallbackInfo& info) { return Status(info.Env()); },
                            "status"));
  exports.Set("algorithms", Napi::Function::New(env, Algorithms, "algorithms"));
  exports.Set("Algorithm", AlgorithmHandle::Define(env));
  RegisterX25519(env, exports);
  return exports;
}

}  // namespace
}  // namespace pqc

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return pqc::Init(env, exports);
}

NODE_API_MODULE(x0tta6bl4_pqc, InitModule)
