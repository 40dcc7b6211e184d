// One KEM or signature algorithm of the loaded liboqs, described by the shapes of its
// operations so that argument checks, sync calls and pooled batches share one code path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bytes.h"
#include "liboqs.h"

namespace pqc {

// Numbering shared with lib/native-binding.ts.
enum Op : int {
  kKemKeypair = 0,
  kKemKeypairDerand = 1,
  kKemEncaps = 2,
  kKemEncapsDerand = 3,
  kKemDecaps = 4,
  kSigKeypair = 5,
  kSigSign = 6,
  kSigVerify = 7,
  kOpCount = 8,
};

constexpr int kMaxInputs = 4;
constexpr int kMaxOutputs = 2;
// FIPS 204 caps the context string at 255 bytes.
constexpr size_t kMaxContextLength = 255;

struct OperandShape {
  const char* name;
  size_t length;      // exact length, or kAnyLength
  size_t max_length;  // bound when length == kAnyLength
  bool secret;        // input copies are cleansed; batch outputs are wiped on failure (batch.cc)
};

struct OpShape {
  bool supported;
  const char* unsupported_reason;
  int inputs;
  int outputs;
  OperandShape in[kMaxInputs];
  OperandShape out[kMaxOutputs];
};

// Result of one operation: >= 0 is the op's value (signature length, 1/0 for verify),
// kFailed means liboqs reported an error.
constexpr int64_t kFailed = -1;

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  const std::string& name() const { return name_; }
  const OpShape& Shape(int op) const { return shapes_[op]; }
  virtual int64_t Execute(int op, const Bytes* in, uint8_t* const* out) const = 0;

 protected:
  explicit Algorithm(std::string name) : name_(std::move(name)), shapes_{} {}
  std::string name_;
  OpShape shapes_[kOpCount];
};

// Throws ERR_PQC_UNSUPPORTED_ALGORITHM when liboqs does not enable `name`.
std::shared_ptr<Algorithm> NewKem(Napi::Env env, const Liboqs& lib, const std::string& name);
std::shared_ptr<Algorithm> NewSig(Napi::Env env, const Liboqs& lib, const std::string& name);

}  // namespace pqc
