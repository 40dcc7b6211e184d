// X25519 (RFC 7748) for the hybrid KEMs, from the OpenSSL that Node itself carries: node:crypto
// can only reach it through KeyObjects, whose import and bookkeeping cost about as much again as
// the scalar multiplication. The hybrid logic stays in TypeScript; this file only multiplies.
//
// Nothing is linked: like liboqs, the EVP functions are looked up at load time (Node exports
// them, or its shared libcrypto does), so a runtime without them gets no X25519 exports rather
// than an unresolved symbol when the first call is made.
#include "x25519.h"

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

#include "bytes.h"
#include "errors.h"

namespace pqc {
namespace {

constexpr size_t kX25519Length = 32;

struct OpenSsl {
  decltype(&EVP_PKEY_new_raw_private_key) new_raw_private_key;
  decltype(&EVP_PKEY_new_raw_public_key) new_raw_public_key;
  decltype(&EVP_PKEY_get_raw_public_key) get_raw_public_key;
  decltype(&EVP_PKEY_free) pkey_free;
  decltype(&EVP_PKEY_CTX_new_from_name) ctx_new_from_name;
  decltype(&EVP_PKEY_CTX_new) ctx_new;
  decltype(&EVP_PKEY_CTX_free) ctx_free;
  decltype(&EVP_PKEY_fromdata_init) fromdata_init;
  decltype(&EVP_PKEY_fromdata) fromdata;
  decltype(&EVP_PKEY_derive_init) derive_init;
  decltype(&EVP_PKEY_derive_set_peer) derive_set_peer;
  decltype(&EVP_PKEY_derive) derive;
  decltype(&OSSL_PARAM_construct_octet_string) param_octet_string;
  decltype(&OSSL_PARAM_construct_end) param_end;
  decltype(&RAND_bytes) rand_bytes;
  decltype(&ERR_peek_last_error) peek_last_error;
  decltype(&ERR_clear_error) clear_error;
};

OpenSsl g_ssl;

template <typename Fn>
bool Resolve(const char* symbol, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, symbol));
  return *out != nullptr;
}

bool ResolveSymbols() {
  OpenSsl& s = g_ssl;
  return Resolve("EVP_PKEY_new_raw_private_key", &s.new_raw_private_key) &&
         Resolve("EVP_PKEY_new_raw_public_key", &s.new_raw_public_key) &&
         Resolve("EVP_PKEY_get_raw_public_key", &s.get_raw_public_key) &&
         Resolve("EVP_PKEY_free", &s.pkey_free) &&
         Resolve("EVP_PKEY_CTX_new_from_name", &s.ctx_new_from_name) &&
         Resolve("EVP_PKEY_CTX_new", &s.ctx_new) && Resolve("EVP_PKEY_CTX_free", &s.ctx_free) &&
         Resolve("EVP_PKEY_fromdata_init", &s.fromdata_init) &&
         Resolve("EVP_PKEY_fromdata", &s.fromdata) &&
         Resolve("EVP_PKEY_derive_init", &s.derive_init) &&
         Resolve("EVP_PKEY_derive_set_peer", &s.derive_set_peer) &&
         Resolve("EVP_PKEY_derive", &s.derive) &&
         Resolve("OSSL_PARAM_construct_octet_string", &s.param_octet_string) &&
         Resolve("OSSL_PARAM_construct_end", &s.param_end) &&
         Resolve("RAND_bytes", &s.rand_bytes) &&
         Resolve("ERR_peek_last_error", &s.peek_last_error) &&
         Resolve("ERR_clear_error", &s.clear_error);
}

// Each worker_thread loads the addon again; the table is filled once (a function-local static:
// std::call_once would need glibc 2.34's pthread_once) and then only read.
bool ResolveOpenSsl() {
  static const bool resolved = ResolveSymbols();
  return resolved;
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { g_ssl.pkey_free(key); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { g_ssl.ctx_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Ctx = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

// OpenSSL's thread error queue is node:crypto's too: leave nothing in it.
[[noreturn]] void ThrowFailed(Napi::Env env, const char* what) {
  g_ssl.clear_error();
  ThrowPqc(env, "ERR_PQC_OPERATION_FAILED", std::string("X25519: OpenSSL failed to ") + what);
}

void ComputePublicKey(Napi::Env env, const Bytes& scalar, const Bytes& out) {
  Pkey key(g_ssl.new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar.data, kX25519Length));
  size_t length = kX25519Length;
  if (!key || g_ssl.get_raw_public_key(key.get(), out.data, &length) != 1 || length != kX25519Length) {
    ThrowFailed(env, "compute a public key");
  }
}

// x25519PublicKey(scalar, out): out = X25519(scalar, 9).
void PublicKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) ThrowInvalid(env, "x25519PublicKey expects (scalar, out)");
  const Bytes scalar = RequireBytes(env, info[0], "scalar", kX25519Length);
  ComputePublicKey(env, scalar, RequireBytes(env, info[1], "out", kX25519Length));
}

// x25519GenerateKey(scalar, publicKey): a random scalar from OpenSSL's generator, and its public
// key. (node:crypto's randomFillSync costs a fifth of an X25519 multiplication for 32 bytes.)
void GenerateKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) ThrowInvalid(env, "x25519GenerateKey expects (scalar, publicKey)");
  const Bytes scalar = RequireBytes(env, info[0], "scalar", kX25519Length);
  const Bytes public_key = RequireBytes(env, info[1], "publicKey", kX25519Length);
  if (g_ssl.rand_bytes(scalar.data, kX25519Length) != 1) ThrowFailed(env, "generate a random scalar");
  ComputePublicKey(env, scalar, public_key);
}

// x25519SharedSecret(scalar, publicKey, peer, out) -> boolean: out = X25519(scalar, peer), with
// publicKey = X25519(scalar, 9) given so that OpenSSL need not recompute it. false, with out all
// zero, when peer is a small-order point: that is RFC 7748's result, which OpenSSL refuses.
Napi::Value SharedSecret(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) ThrowInvalid(env, "x25519SharedSecret expects (scalar, publicKey, peer, out)");
  const Bytes scalar = RequireBytes(env, info[0], "scalar", kX25519Length);
  const Bytes public_key = RequireBytes(env, info[1], "publicKey", kX25519Length);
  const Bytes peer = RequireBytes(env, info[2], "peer", kX25519Length);
  const Bytes out = RequireBytes(env, info[3], "out", kX25519Length);

  OSSL_PARAM params[] = {
      g_ssl.param_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, scalar.data, kX25519Length),
      g_ssl.param_octet_string(OSSL_PKEY_PARAM_PUB_KEY, public_key.data, kX25519Length),
      g_ssl.param_end(),
  };
  Ctx import(g_ssl.ctx_new_from_name(nullptr, "X25519", nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!import || g_ssl.fromdata_init(import.get()) != 1 ||
      g_ssl.fromdata(import.get(), &raw_key, EVP_PKEY_KEYPAIR, params) != 1) {
    ThrowFailed(env, "import the private key");
  }
  Pkey key(raw_key);
  Pkey peer_key(g_ssl.new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data, kX25519Length));
  Ctx derive(peer_key ? g_ssl.ctx_new(key.get(), nullptr) : nullptr);
  if (!derive || g_ssl.derive_init(derive.get()) != 1 ||
      g_ssl.derive_set_peer(derive.get(), peer_key.get()) != 1) {
    ThrowFailed(env, "set up the exchange");
  }
  size_t length = kX25519Length;
  if (g_ssl.derive(derive.get(), out.data, &length) == 1 && length == kX25519Length) {
    return Napi::Boolean::New(env, true);
  }
  const unsigned long error = g_ssl.peek_last_error();
  if (ERR_GET_LIB(error) != ERR_LIB_PROV || ERR_GET_REASON(error) != PROV_R_FAILED_DURING_DERIVATION) {
    ThrowFailed(env, "derive the shared secret");
  }
  g_ssl.clear_error();
  std::memset(out.data, 0, kX25519Length);
  return Napi::Boolean::New(env, false);
}

}  // namespace

void RegisterX25519(Napi::Env env, Napi::Object exports) {
  if (!ResolveOpenSsl()) return;
  exports.Set("x25519PublicKey", Napi::Function::New(env, PublicKey, "x25519PublicKey"));
  exports.Set("x25519GenerateKey", Napi::Function::New(env, GenerateKey, "x25519GenerateKey"));
  exports.Set("x25519SharedSecret", Napi::Function::New(env, SharedSecret, "x25519SharedSecret"));
}

}  // namespace pqc
