/*
 * The parts of liboqs's OQS_KEM and OQS_SIG that every supported release (0.12.0 onwards)
 * lays out the same way, for code that binds liboqs at run time without its headers: the
 * addon and the benchmark's C harnesses. C and C++.
 */
#ifndef X0TTA6BL4_OQS_PREFIX_H
#define X0TTA6BL4_OQS_PREFIX_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

/* 0.13 inserted seed lengths and derand pointers right after these fields. */
typedef struct OqsKemPrefix {
  const char *method_name;
  const char *alg_version;
  uint8_t claimed_nist_level;
  bool ind_cca;
  size_t length_public_key;
  size_t length_secret_key;
  size_t length_ciphertext;
  size_t length_shared_secret;
} OqsKemPrefix;

/* OQS_SIG gained `bool suf_cma` in 0.13, between other one-byte fields: claimed_nist_level,
 * euf_cma, [suf_cma,] sig_with_ctx_support. The size_t lengths that follow sit at the same
 * offset in every supported release. */
typedef struct OqsSigPrefix {
  const char *method_name;
  const char *alg_version;
  uint8_t flag_bytes[4];
  size_t length_public_key;
  size_t length_secret_key;
  size_t length_signature;
} OqsSigPrefix;

#endif
