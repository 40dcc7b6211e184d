// Argument checks shared by every binding: a direct call into the addon with a wrong type,
// a wrong length or a detached buffer must raise ERR_PQC_INVALID_INPUT, never read out of bounds.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <limits>

#include "errors.h"

namespace pqc {

constexpr size_t kAnyLength = std::numeric_limits<size_t>::max();

struct Bytes {
  uint8_t* data;
  size_t length;
};

// `expected` is an exact length, or kAnyLength with `max` as the upper bound.
inline Bytes RequireBytes(Napi::Env env, const Napi::Value& value, const char* name,
                          size_t expected, size_t max = kAnyLength) {
  if (!value.IsTypedArray() ||
      value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalid(env, std::string(name) + " must be a Uint8Array");
  }
  Napi::Uint8Array array = value.As<Napi::Uint8Array>();
  if (array.ArrayBuffer().IsDetached()) {
    ThrowInvalid(env, std::string(name) + " is a detached buffer");
  }
  const size_t length = array.ByteLength();
  if (expected != kAnyLength && length != expected) {
    ThrowInvalid(env, std::string(name) + " must be " + std::to_string(expected) +
                          " bytes long, got " + std::to_string(length));
  }
  if (expected == kAnyLength && length > max) {
    ThrowInvalid(env, std::string(name) + " must be at most " + std::to_string(max) +
                          " bytes long, got " + std::to_string(length));
  }
  // An empty view may carry a null data pointer; liboqs is still given a valid address.
  static uint8_t empty = 0;
  return Bytes{length == 0 ? &empty : array.Data(), length};
}

inline uint32_t RequireCount(Napi::Env env, const Napi::Value& value, const char* name,
                             uint32_t min, uint32_t max) {
  if (!value.IsNumber()) ThrowInvalid(env, std::string(name) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= min && number <= max) || number != static_cast<uint32_t>(number)) {
    ThrowInvalid(env, std::string(name) + " must be an integer from " + std::to_string(min) +
                          " to " + std::to_string(max));
  }
  return static_cast<uint32_t>(number);
}

}  // namespace pqc
