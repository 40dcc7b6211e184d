#include <cstring>

#include "algorithm.h"

namespace pqc {
namespace {

// FIPS 203 fixes the derandomized inputs of ML-KEM: d || z for key generation, m for
// encapsulation. liboqs offers derand for ML-KEM only.
constexpr size_t kMlKemKeypairSeed = 64;
constexpr size_t kMlKemEncapsSeed = 32;

class Kem final : public Algorithm {
 public:
  Kem(const Liboqs& lib, OqsKemPrefix* kem) : Algorithm(kem->method_name), lib_(lib), kem_(kem) {
    const OperandShape pk{"publicKey", kem->length_public_key, 0, false};
    const OperandShape sk{"secretKey", kem->length_secret_key, 0, true};
    const OperandShape ct{"ciphertext", kem->length_ciphertext, 0, false};
    const OperandShape ss{"sharedSecret", kem->length_shared_secret, 0, true};
    const bool ml_kem = std::strncmp(kem->method_name, "ML-KEM-", 7) == 0;
    const char* no_derand = ml_kem ? nullptr : "liboqs derives keys from a seed for ML-KEM only";

    shapes_[kKemKeypair] = {true, nullptr, 0, 2, {}, {pk, sk}};
    shapes_[kKemKeypairDerand] = {
        ml_kem && lib.kem_keypair_derand != nullptr,
        no_derand ? no_derand : "the loaded liboqs has no OQS_KEM_keypair_derand (needs 0.13+)",
        1, 2, {{"seed", kMlKemKeypairSeed, 0, true}}, {pk, sk}};
    shapes_[kKemEncaps] = {true, nullptr, 1, 2, {pk}, {ct, ss}};
    shapes_[kKemEncapsDerand] = {
        ml_kem && lib.kem_encaps_derand != nullptr,
        no_derand ? no_derand : "the loaded liboqs has no OQS_KEM_encaps_derand (needs 0.15+)",
        2, 2, {pk, {"seed", kMlKemEncapsSeed, 0, true}}, {ct, ss}};
    shapes_[kKemDecaps] = {true, nullptr, 2, 1, {ct, sk}, {ss}};
  }
  ~Kem() override { lib_.kem_free(kem_); }

  int64_t Execute(int op, const Bytes* in, uint8_t* const* out) const override {
    OqsStatus status;
    switch (op) {
      case kKemKeypair:
        status = lib_.kem_keypair(kem_, out[0], out[1]);
        break;
      case kKemKeypairDerand:
        status = lib_.kem_keypair_derand(kem_, out[0], out[1], in[0].data);
        break;
      case kKemEncaps:
        status = lib_.kem_encaps(kem_, out[0], out[1], in[0].data);
        break;
      case kKemEncapsDerand:
        status = lib_.kem_encaps_derand(kem_, out[0], out[1], in[0].data, in[1].data);
        break;
      case kKemDecaps:
        status = lib_.kem_decaps(kem_, out[0], in[0].data, in[1].data);
        break;
      default:
        return kFailed;
    }
    return status == kOqsSuccess ? 0 : kFailed;
  }

 private:
  const Liboqs& lib_;
  OqsKemPrefix* kem_;
};

}  // namespace

std::shared_ptr<Algorithm> NewKem(Napi::Env env, const Liboqs& lib, const std::string& name) {
  OqsKemPrefix* kem = lib.kem_alg_is_enabled(name.c_str()) ? lib.kem_new(name.c_str()) : nullptr;
  if (kem == nullptr) {
    ThrowPqc(env, "ERR_PQC_UNSUPPORTED_ALGORITHM",
             "KEM " + name + " is not enabled in liboqs " + lib.version_string);
  }
  return std::make_shared<Kem>(lib, kem);
}

}  // namespace pqc
