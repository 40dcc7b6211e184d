#pragma once

#include <napi.h>

namespace pqc {

// Adds x25519PublicKey, x25519GenerateKey and x25519SharedSecret to the module's exports when the OpenSSL inside
// Node provides the functions they need; without them the exports are absent and the hybrid
// KEMs use node:crypto instead.
void RegisterX25519(Napi::Env env, Napi::Object exports);

}  // namespace pqc
