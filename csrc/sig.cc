#include "algorithm.h"

namespace pqc {
namespace {

class Sig final : public Algorithm {
 public:
  Sig(const Liboqs& lib, OqsSigPrefix* sig) : Algorithm(sig->method_name), lib_(lib), sig_(sig) {
    const OperandShape pk{"publicKey", sig->length_public_key, 0, false};
    const OperandShape sk{"secretKey", sig->length_secret_key, 0, true};
    const OperandShape message{"message", kAnyLength, kAnyLength, false};
    // A scheme without context support (Falcon, MAYO, …) takes only the empty context.
    const OperandShape context{"context", kAnyLength,
                               SigTakesContext(lib, sig) ? kMaxContextLength : 0, false};
    // A signature of the wrong length is an invalid signature (verify says false), not bad input.
    const OperandShape signature{"signature", kAnyLength, kAnyLength, false};

    shapes_[kSigKeypair] = {true, nullptr, 0, 2, {}, {pk, sk}};
    shapes_[kSigSign] = {
        true, nullptr, 3, 1, {message, sk, context}, {{"signature", sig->length_signature, 0, false}}};
    shapes_[kSigVerify] = {true, nullptr, 4, 0, {message, signature, pk, context}, {}};
  }
  ~Sig() override { lib_.sig_free(sig_); }

  int64_t Execute(int op, const Bytes* in, uint8_t* const* out) const override {
    switch (op) {
      case kSigKeypair:
        return lib_.sig_keypair(sig_, out[0], out[1]) == kOqsSuccess ? 0 : kFailed;
      case kSigSign: {
        size_t length = 0;
        const OqsStatus status =
            lib_.sig_sign_ctx(sig_, out[0], &length, in[0].data, in[0].length, Context(in[2]),
                              in[2].length, in[1].data);
        return status == kOqsSuccess ? static_cast<int64_t>(length) : kFailed;
      }
      case kSigVerify:
        // liboqs reports a bad signature and a failed check with the same status.
        return lib_.sig_verify_ctx(sig_, in[0].data, in[0].length, in[1].data, in[1].length,
                                   Context(in[3]), in[3].length, in[2].data) == kOqsSuccess
                   ? 1
                   : 0;
      default:
        return kFailed;
    }
  }

 private:
  // A scheme without context support refuses any non-NULL context, even an empty one.
  static const uint8_t* Context(const Bytes& context) {
    return context.length == 0 ? nullptr : context.data;
  }

  const Liboqs& lib_;
  OqsSigPrefix* sig_;
};

}  // namespace

std::shared_ptr<Algorithm> NewSig(Napi::Env env, const Liboqs& lib, const std::string& name) {
  OqsSigPrefix* sig = lib.sig_alg_is_enabled(name.c_str()) ? lib.sig_new(name.c_str()) : nullptr;
  if (sig == nullptr) {
    ThrowPqc(env, "ERR_PQC_UNSUPPORTED_ALGORITHM",
             "signature " + name + " is not enabled in liboqs " + lib.version_string);
  }
  return std::make_shared<Sig>(lib, sig);
}

}  // namespace pqc
