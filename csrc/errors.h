#pragma once

#include <napi.h>

#include <string>

namespace pqc {

// Every error raised by the addon carries a stable `code`, the same ones the TS layer uses.
inline Napi::Error PqcError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

[[noreturn]] inline void ThrowPqc(Napi::Env env, const char* code, const std::string& message) {
  throw PqcError(env, code, message);
}

[[noreturn]] inline void ThrowInvalid(Napi::Env env, const std::string& message) {
  ThrowPqc(env, "ERR_PQC_INVALID_INPUT", message);
}

}  // namespace pqc
