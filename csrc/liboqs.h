// The subset of liboqs that this addon uses, declared here so that the addon builds
// without liboqs headers and binds at run time to whichever release the system has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "oqs_prefix.h"

namespace pqc {

using OqsStatus = int;  // OQS_SUCCESS == 0
constexpr OqsStatus kOqsSuccess = 0;

using ::OqsKemPrefix;
using ::OqsSigPrefix;

static_assert(offsetof(OqsSigPrefix, length_public_key) ==
                  (2 * sizeof(void*) + 4 + alignof(size_t) - 1) / alignof(size_t) * alignof(size_t),
              "OQS_SIG lengths must follow the one-byte flags at the next size_t boundary");

struct Liboqs {
  const char* (*version)();
  void (*init)();
  void (*mem_cleanse)(void*, size_t);

  int (*kem_alg_count)();
  const char* (*kem_alg_identifier)(size_t);
  int (*kem_alg_is_enabled)(const char*);
  OqsKemPrefix* (*kem_new)(const char*);
  void (*kem_free)(OqsKemPrefix*);
  OqsStatus (*kem_keypair)(const OqsKemPrefix*, uint8_t*, uint8_t*);
  OqsStatus (*kem_encaps)(const OqsKemPrefix*, uint8_t*, uint8_t*, const uint8_t*);
  OqsStatus (*kem_decaps)(const OqsKemPrefix*, uint8_t*, const uint8_t*, const uint8_t*);
  // Optional: null when the loaded release predates them (keypair 0.13, encaps 0.15).
  OqsStatus (*kem_keypair_derand)(const OqsKemPrefix*, uint8_t*, uint8_t*, const uint8_t*);
  OqsStatus (*kem_encaps_derand)(const OqsKemPrefix*, uint8_t*, uint8_t*, const uint8_t*,
                                 const uint8_t*);

  int (*sig_alg_count)();
  const char* (*sig_alg_identifier)(size_t);
  int (*sig_alg_is_enabled)(const char*);
  OqsSigPrefix* (*sig_new)(const char*);
  void (*sig_free)(OqsSigPrefix*);
  OqsStatus (*sig_keypair)(const OqsSigPrefix*, uint8_t*, uint8_t*);
  OqsStatus (*sig_sign_ctx)(const OqsSigPrefix*, uint8_t*, size_t*, const uint8_t*, size_t,
                            const uint8_t*, size_t, const uint8_t*);
  OqsStatus (*sig_verify_ctx)(const OqsSigPrefix*, const uint8_t*, size_t, const uint8_t*,
                              size_t, const uint8_t*, size_t, const uint8_t*);
  // Optional: 0.14+. Before it, OQS_SIG's sig_with_ctx_support is read from flag_bytes at
  // `sig_ctx_flag` (csrc/oqs_prefix.h).
  bool (*sig_supports_ctx)(const char*);
  int sig_ctx_flag;

  std::string path;
  std::string version_string;
};

// Whether `sig` takes a context string; one that does not takes only the empty one, as NULL.
bool SigTakesContext(const Liboqs& lib, const OqsSigPrefix* sig);

// The liboqs this process uses, or null before a successful LoadLiboqs.
const Liboqs* ActiveLiboqs();

// The oldest release with final ML-KEM (FIPS 203), final ML-DSA (FIPS 204) and context strings.
constexpr int kMinMajor = 0;
constexpr int kMinMinor = 12;

enum class LoadResult { kLoaded, kNotFound, kMissingSymbol, kTooOld, kIncompatible, kAlreadyLoaded };

// Opens the library at `path` (a file or a name for the dynamic loader's search), checks its
// version and symbols, and makes it the process's liboqs. `detail` explains any failure.
LoadResult LoadLiboqs(const std::string& path, std::string* detail);

}  // namespace pqc
