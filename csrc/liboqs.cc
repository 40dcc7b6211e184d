#include "liboqs.h"

#include <dlfcn.h>

#include <cstdio>
#include <atomic>
#include <mutex>

namespace pqc {
namespace {

Liboqs g_liboqs;
// Read without the lock from every thread (worker_threads load the addon too).
std::atomic<const Liboqs*> g_active{nullptr};
std::mutex g_load_mutex;

template <typename Fn>
bool Resolve(void* handle, const char* symbol, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  return *out != nullptr;
}

// The addon reads sizes from the part of OQS_KEM/OQS_SIG that no release has changed. Should a
// future release change it, the sizes of two standard algorithms (FIPS 203 / FIPS 204) expose it
// before any buffer is sized from them.
bool HasKnownLayout(const Liboqs& lib) {
  if (lib.kem_alg_is_enabled("ML-KEM-768")) {
    OqsKemPrefix* kem = lib.kem_new("ML-KEM-768");
    const bool ok = kem != nullptr && kem->length_public_key == 1184 &&
                    kem->length_secret_key == 2400 && kem->length_ciphertext == 1088 &&
                    kem->length_shared_secret == 32;
    if (kem != nullptr) lib.kem_free(kem);
    if (!ok) return false;
  }
  if (lib.sig_alg_is_enabled("ML-DSA-44")) {
    OqsSigPrefix* sig = lib.sig_new("ML-DSA-44");
    const bool ok = sig != nullptr && sig->length_public_key == 1312 &&
                    sig->length_secret_key == 2560 && sig->length_signature == 2420 &&
                    SigTakesContext(lib, sig);
    if (sig != nullptr) lib.sig_free(sig);
    if (!ok) return false;
  }
  // Falcon takes no context: a flag read from the wrong byte shows here or with ML-DSA above.
  if (lib.sig_alg_is_enabled("Falcon-512")) {
    OqsSigPrefix* sig = lib.sig_new("Falcon-512");
    const bool ok = sig != nullptr && !SigTakesContext(lib, sig);
    if (sig != nullptr) lib.sig_free(sig);
    if (!ok) return false;
  }
  return true;
}

bool ParseVersion(const char* text, int* major, int* minor) {
  return text != nullptr && std::sscanf(text, "%d.%d", major, minor) == 2;
}

}  // namespace

const Liboqs* ActiveLiboqs() { return g_active.load(std::memory_order_acquire); }

bool SigTakesContext(const Liboqs& lib, const OqsSigPrefix* sig) {
  if (lib.sig_supports_ctx != nullptr) return lib.sig_supports_ctx(sig->method_name);
  return sig->flag_bytes[lib.sig_ctx_flag] != 0;
}

LoadResult LoadLiboqs(const std::string& path, std::string* detail) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  if (const Liboqs* active = g_active.load(std::memory_order_acquire)) {
    *detail = "liboqs is already loaded from " + active->path;
    return LoadResult::kAlreadyLoaded;
  }
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    *detail = why != nullptr ? why : "dlopen failed";
    return LoadResult::kNotFound;
  }

  Liboqs lib{};
  if (!Resolve(handle, "OQS_version", &lib.version)) {
    dlclose(handle);
    *detail = "not a liboqs library (no OQS_version symbol)";
    return LoadResult::kMissingSymbol;
  }
  int major = 0;
  int minor = 0;
  const char* version = lib.version();
  if (!ParseVersion(version, &major, &minor) || major < kMinMajor ||
      (major == kMinMajor && minor < kMinMinor)) {
    *detail = std::string("liboqs ") + (version != nullptr ? version : "(unknown version)") +
              " is older than 0." + std::to_string(kMinMinor) +
              ".0, the first release with final ML-KEM, final ML-DSA and signature contexts";
    dlclose(handle);
    return LoadResult::kTooOld;
  }

  struct Required {
    const char* name;
    bool ok;
  };
  const Required required[] = {
      {"OQS_init", Resolve(handle, "OQS_init", &lib.init)},
      {"OQS_MEM_cleanse", Resolve(handle, "OQS_MEM_cleanse", &lib.mem_cleanse)},
      {"OQS_KEM_alg_count", Resolve(handle, "OQS_KEM_alg_count", &lib.kem_alg_count)},
      {"OQS_KEM_alg_identifier",
       Resolve(handle, "OQS_KEM_alg_identifier", &lib.kem_alg_identifier)},
      {"OQS_KEM_alg_is_enabled",
       Resolve(handle, "OQS_KEM_alg_is_enabled", &lib.kem_alg_is_enabled)},
      {"OQS_KEM_new", Resolve(handle, "OQS_KEM_new", &lib.kem_new)},
      {"OQS_KEM_free", Resolve(handle, "OQS_KEM_free", &lib.kem_free)},
      {"OQS_KEM_keypair", Resolve(handle, "OQS_KEM_keypair", &lib.kem_keypair)},
      {"OQS_KEM_encaps", Resolve(handle, "OQS_KEM_encaps", &lib.kem_encaps)},
      {"OQS_KEM_decaps", Resolve(handle, "OQS_KEM_decaps", &lib.kem_decaps)},
      {"OQS_SIG_alg_count", Resolve(handle, "OQS_SIG_alg_count", &lib.sig_alg_count)},
      {"OQS_SIG_alg_identifier",
       Resolve(handle, "OQS_SIG_alg_identifier", &lib.sig_alg_identifier)},
      {"OQS_SIG_alg_is_enabled",
       Resolve(handle, "OQS_SIG_alg_is_enabled", &lib.sig_alg_is_enabled)},
      {"OQS_SIG_new", Resolve(handle, "OQS_SIG_new", &lib.sig_new)},
      {"OQS_SIG_free", Resolve(handle, "OQS_SIG_free", &lib.sig_free)},
      {"OQS_SIG_keypair", Resolve(handle, "OQS_SIG_keypair", &lib.sig_keypair)},
      {"OQS_SIG_sign_with_ctx_str",
       Resolve(handle, "OQS_SIG_sign_with_ctx_str", &lib.sig_sign_ctx)},
      {"OQS_SIG_verify_with_ctx_str",
       Resolve(handle, "OQS_SIG_verify_with_ctx_str", &lib.sig_verify_ctx)},
  };
  for (const Required& symbol : required) {
    if (!symbol.ok) {
      *detail = std::string("liboqs ") + version + " lacks the symbol " + symbol.name;
      dlclose(handle);
      return LoadResult::kMissingSymbol;
    }
  }
  Resolve(handle, "OQS_KEM_keypair_derand", &lib.kem_keypair_derand);
  Resolve(handle, "OQS_KEM_encaps_derand", &lib.kem_encaps_derand);
  Resolve(handle, "OQS_SIG_supports_ctx_str", &lib.sig_supports_ctx);
  lib.sig_ctx_flag = minor >= 13 ? 3 : 2;  // after suf_cma from 0.13 (csrc/oqs_prefix.h)

  Dl_info where{};
  lib.path = dladdr(reinterpret_cast<void*>(lib.version), &where) != 0 && where.dli_fname
                 ? where.dli_fname
                 : path;
  lib.version_string = version;
  lib.init();
  if (!HasKnownLayout(lib)) {
    *detail = std::string("liboqs ") + version +
              " lays out OQS_KEM or OQS_SIG differently from every release this addon knows";
    dlclose(handle);
    return LoadResult::kIncompatible;
  }
  // The library stays mapped for the life of the process: keys and handles point into it.
  g_liboqs = lib;
  g_active.store(&g_liboqs, std::memory_order_release);
  return LoadResult::kLoaded;
}

}  // namespace pqc
