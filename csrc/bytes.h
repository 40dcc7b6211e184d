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

// `expected` is an exact length, or kAnyLength with `max` as the upper bound. `index` >= 0 names
// an item of a batch ("name[index]"). One napi_get_typedarray_info call answers every check on
// the path that passes: these checks run for every operand of every call.
inline Bytes RequireBytes(Napi::Env env, napi_value value, const char* name, size_t expected,
                          size_t max = kAnyLength, int64_t index = -1) {
  const auto fail = [&](const std::string& problem) {
    const std::string item = index < 0 ? "" : "[" + std::to_string(index) + "]";
    ThrowInvalid(env, std::string(name) + item + " " + problem);
  };
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  // napi_invalid_arg, with no exception pending, when `value` is not a typed array.
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    fail("must be a Uint8Array");
  }
  // A detached buffer's views have length 0: only then is it worth asking.
  if (length == 0) {
    napi_value buffer = nullptr;
    bool detached = false;
    if (napi_get_typedarray_info(env, value, nullptr, nullptr, nullptr, &buffer, nullptr) == napi_ok &&
        napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached) {
      fail("is a detached buffer");
    }
  }
  if (expected != kAnyLength && length != expected) {
    fail("must be " + std::to_string(expected) + " bytes long, got " + std::to_string(length));
  }
  if (expected == kAnyLength && length > max) {
    fail("must be at most " + std::to_string(max) + " bytes long, got " + std::to_string(length));
  }
  // An empty view may carry a null data pointer; liboqs is still given a valid address.
  static uint8_t empty = 0;
  return Bytes{length == 0 ? &empty : static_cast<uint8_t*>(data), length};
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
