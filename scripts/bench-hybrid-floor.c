// The C floor for the hybrid KEMs in `npm run bench`: X-Wing and X25519MLKEM768 written
// straight against liboqs and OpenSSL, with nothing between the caller and the libraries.
// scripts/bench-hybrid.mjs compiles it with `cc -O2 … -lcrypto` and runs it on the liboqs file
// the package loaded, so that the package's overhead is the only difference it measures.
//
//   bench-hybrid-floor <liboqs-file> <construction> <op> <iterations> [warm-up-ms]
//
// construction: xwing | x25519mlkem768
// op: encaps | decaps (the decapsulator keeps its key expanded, as the X-Wing draft allows)
//     | decaps-seed (xwing only: expands the 32-byte private key on every call)
//     | x25519-keygen | x25519-derive (one component call, for the write-up)
// Prints `ns_per_op=<ns> iterations=<n> version=<liboqs>`.
//
// liboqs is bound at run time like csrc/liboqs.cc (no headers, exported functions, the shared
// OQS_KEM prefix); OpenSSL is the system libcrypto. X25519 goes through EVP as any C program
// would use it; a decapsulator that keeps its key keeps the EVP_PKEY too.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oqs_prefix.h"

typedef OqsKemPrefix oqs_kem;

typedef int oqs_status;



static struct {
  const char *(*version)(void);
  void (*init)(void);
  oqs_kem *(*kem_new)(const char *);
  oqs_status (*keypair)(const oqs_kem *, uint8_t *pk, uint8_t *sk);
  oqs_status (*keypair_derand)(const oqs_kem *, uint8_t *pk, uint8_t *sk, const uint8_t *seed);
  oqs_status (*encaps)(const oqs_kem *, uint8_t *ct, uint8_t *ss, const uint8_t *pk);
  oqs_status (*decaps)(const oqs_kem *, uint8_t *ss, const uint8_t *ct, const uint8_t *sk);
} oqs;

enum {
  kPkM = 1184,
  kSkM = 2400,
  kCtM = 1088,
  kX = 32,
  kSeed = 32,
};
static const uint8_t kXWingLabel[6] = {0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c};

enum construction { XWING, X25519MLKEM768 };
enum op { ENCAPS, DECAPS, DECAPS_SEED, X25519_KEYGEN, X25519_DERIVE };
static const char *const kOps[] = {"encaps", "decaps", "decaps-seed", "x25519-keygen",
                                   "x25519-derive"};

static const oqs_kem *g_kem;
static EVP_MD *g_sha3;
static EVP_MD *g_shake;

// The recipient's state: public key, the expanded private key and its X25519 EVP_PKEY.
static struct {
  uint8_t seed[kSeed];
  uint8_t pk[kPkM + kX];
  uint8_t sk_m[kSkM];
  uint8_t sk_x[kX];
  EVP_PKEY *key_x;
  uint8_t ct[kCtM + kX];
} g;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench-hybrid-floor: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void *resolve(void *lib, const char *symbol) {
  void *fn = dlsym(lib, symbol);
  if (fn == NULL) die("liboqs lacks the symbol", symbol);
  return fn;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static EVP_PKEY *x25519_private(const uint8_t sk[kX]) {
  return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, kX);
}

static bool x25519_public(EVP_PKEY *key, uint8_t out[kX]) {
  size_t length = kX;
  return EVP_PKEY_get_raw_public_key(key, out, &length) == 1 && length == kX;
}

static bool x25519_derive(EVP_PKEY *key, const uint8_t peer[kX], uint8_t out[kX]) {
  EVP_PKEY *peer_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, kX);
  EVP_PKEY_CTX *ctx = peer_key ? EVP_PKEY_CTX_new(key, NULL) : NULL;
  size_t length = kX;
  const bool ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
                  EVP_PKEY_derive_set_peer(ctx, peer_key) == 1 &&
                  EVP_PKEY_derive(ctx, out, &length) == 1 && length == kX;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer_key);
  return ok;
}

static bool all_zero(const uint8_t x[kX]) {
  uint8_t acc = 0;
  for (int i = 0; i < kX; i++) acc |= x[i];
  return acc == 0;
}

static bool xwing_combine(const uint8_t ss_m[32], const uint8_t ss_x[kX], const uint8_t ct_x[kX],
                          const uint8_t pk_x[kX], uint8_t out[32]) {
  uint8_t input[32 + 3 * kX + sizeof kXWingLabel];
  memcpy(input, ss_m, 32);
  memcpy(input + 32, ss_x, kX);
  memcpy(input + 32 + kX, ct_x, kX);
  memcpy(input + 32 + 2 * kX, pk_x, kX);
  memcpy(input + 32 + 3 * kX, kXWingLabel, sizeof kXWingLabel);
  return EVP_Digest(input, sizeof input, out, NULL, g_sha3, NULL) == 1;
}

// SHAKE256(seed, 96 bytes) → ML-KEM d‖z and the X25519 scalar; the public keys follow.
static bool xwing_expand(const uint8_t seed[kSeed], uint8_t pk[kPkM + kX], uint8_t sk_m[kSkM],
                         uint8_t sk_x[kX], EVP_PKEY **key_x) {
  uint8_t expanded[96];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, g_shake, NULL) == 1 &&
            EVP_DigestUpdate(ctx, seed, kSeed) == 1 &&
            EVP_DigestFinalXOF(ctx, expanded, sizeof expanded) == 1;
  EVP_MD_CTX_free(ctx);
  ok = ok && oqs.keypair_derand(g_kem, pk, sk_m, expanded) == 0;
  memcpy(sk_x, expanded + 64, kX);
  *key_x = ok ? x25519_private(sk_x) : NULL;
  return *key_x != NULL && x25519_public(*key_x, pk + kPkM);
}

// Encapsulation as each construction does it: ML-KEM to pk_M, an ephemeral X25519 key whose
// public half is ct_X, its shared secret with pk_X, then the construction's output.
static bool encaps(enum construction c, const uint8_t pk[kPkM + kX], uint8_t ct[kCtM + kX],
                   uint8_t *ss) {
  uint8_t ss_m[32], ek_x[kX], ss_x[kX];
  if (oqs.encaps(g_kem, ct, ss_m, pk) != 0 || RAND_bytes(ek_x, kX) != 1) return false;
  EVP_PKEY *ephemeral = x25519_private(ek_x);
  bool ok = ephemeral != NULL && x25519_public(ephemeral, ct + kCtM) &&
            x25519_derive(ephemeral, pk + kPkM, ss_x);
  EVP_PKEY_free(ephemeral);
  if (c == XWING) return ok && xwing_combine(ss_m, ss_x, ct + kCtM, pk + kPkM, ss);
  memcpy(ss, ss_m, 32);
  memcpy(ss + 32, ss_x, kX);
  return ok && !all_zero(ss_x);
}

static bool decaps(enum construction c, const uint8_t ct[kCtM + kX], const uint8_t sk_m[kSkM],
                   EVP_PKEY *key_x, const uint8_t pk_x[kX], uint8_t *ss) {
  uint8_t ss_m[32], ss_x[kX];
  if (oqs.decaps(g_kem, ss_m, ct, sk_m) != 0 || !x25519_derive(key_x, ct + kCtM, ss_x)) {
    return false;
  }
  if (c == XWING) return xwing_combine(ss_m, ss_x, ct + kCtM, pk_x, ss);
  memcpy(ss, ss_m, 32);
  memcpy(ss + 32, ss_x, kX);
  return !all_zero(ss_x);
}

static bool decaps_seed(const uint8_t seed[kSeed], const uint8_t ct[kCtM + kX], uint8_t ss[32]) {
  uint8_t pk[kPkM + kX], sk_m[kSkM], sk_x[kX];
  EVP_PKEY *key_x = NULL;
  const bool ok = xwing_expand(seed, pk, sk_m, sk_x, &key_x) &&
                  decaps(XWING, ct, sk_m, key_x, pk + kPkM, ss);
  EVP_PKEY_free(key_x);
  return ok;
}

static bool run_once(enum construction c, enum op op) {
  uint8_t ct[kCtM + kX], ss[64], x[kX];
  switch (op) {
    case ENCAPS:
      return encaps(c, g.pk, ct, ss);
    case DECAPS:
      return decaps(c, g.ct, g.sk_m, g.key_x, g.pk + kPkM, ss);
    case DECAPS_SEED:
      return decaps_seed(g.seed, g.ct, ss);
    case X25519_KEYGEN: {
      EVP_PKEY *key = x25519_private(g.sk_x);
      const bool ok = key != NULL && x25519_public(key, x);
      EVP_PKEY_free(key);
      return ok;
    }
    case X25519_DERIVE:
      return x25519_derive(g.key_x, g.ct + kCtM, x);
  }
  return false;
}

static long parse_positive(const char *text, const char *what) {
  char *end = NULL;
  const long value = strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1) die(what, "must be a positive integer");
  return value;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 6) {
    fprintf(stderr,
            "usage: %s <liboqs-file> <xwing|x25519mlkem768> "
            "<encaps|decaps|decaps-seed|x25519-keygen|x25519-derive> <iterations> [warm-up-ms]\n",
            argv[0]);
    return 2;
  }
  enum construction c;
  if (strcmp(argv[2], "xwing") == 0) {
    c = XWING;
  } else if (strcmp(argv[2], "x25519mlkem768") == 0) {
    c = X25519MLKEM768;
  } else {
    die("unknown construction", argv[2]);
  }
  int op = -1;
  for (int i = 0; i < (int)(sizeof kOps / sizeof kOps[0]); i++) {
    if (strcmp(argv[3], kOps[i]) == 0) op = i;
  }
  if (op < 0 || (op == DECAPS_SEED && c != XWING)) die("unknown operation", argv[3]);
  const long iterations = parse_positive(argv[4], "iterations");
  const double warmup_ns = (argc > 5 ? (double)parse_positive(argv[5], "warm-up-ms") : 25.0) * 1e6;

  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) die("cannot open liboqs", dlerror());
  *(void **)&oqs.version = resolve(lib, "OQS_version");
  *(void **)&oqs.init = resolve(lib, "OQS_init");
  *(void **)&oqs.kem_new = resolve(lib, "OQS_KEM_new");
  *(void **)&oqs.keypair = resolve(lib, "OQS_KEM_keypair");
  *(void **)&oqs.encaps = resolve(lib, "OQS_KEM_encaps");
  *(void **)&oqs.decaps = resolve(lib, "OQS_KEM_decaps");
  *(void **)&oqs.keypair_derand = dlsym(lib, "OQS_KEM_keypair_derand");
  oqs.init();
  g_kem = oqs.kem_new("ML-KEM-768");
  if (g_kem == NULL) die("KEM not enabled in this liboqs", "ML-KEM-768");
  g_sha3 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
  g_shake = EVP_MD_fetch(NULL, "SHAKE256", NULL);
  if (g_sha3 == NULL || g_shake == NULL) die("OpenSSL lacks SHA-3", NULL);

  // X-Wing keys come from a seed and need OQS_KEM_keypair_derand (liboqs 0.13+); the TLS
  // hybrid's keys are two independent key pairs.
  if (RAND_bytes(g.seed, kSeed) != 1 || RAND_bytes(g.sk_x, kX) != 1) die("RAND_bytes", NULL);
  if (c == XWING) {
    if (oqs.keypair_derand == NULL) die("this liboqs has no OQS_KEM_keypair_derand", oqs.version());
    if (!xwing_expand(g.seed, g.pk, g.sk_m, g.sk_x, &g.key_x)) die("X-Wing key generation", NULL);
  } else {
    g.key_x = x25519_private(g.sk_x);
    if (oqs.keypair(g_kem, g.pk, g.sk_m) != 0 || g.key_x == NULL ||
        !x25519_public(g.key_x, g.pk + kPkM)) {
      die("X25519MLKEM768 key generation", NULL);
    }
  }
  uint8_t ss[64];
  if (!encaps(c, g.pk, g.ct, ss)) die("encapsulation failed", NULL);

  const double until = now_ns() + warmup_ns;
  for (int n = 0; n < 2 || now_ns() < until; n++) {
    if (!run_once(c, (enum op)op)) die(argv[3], "failed during warm-up");
  }
  const double start = now_ns();
  bool failed = false;
  for (long i = 0; i < iterations; i++) failed |= !run_once(c, (enum op)op);
  const double elapsed = now_ns() - start;
  if (failed) die(argv[3], "failed during the timed run");
  printf("ns_per_op=%.1f iterations=%ld version=%s\n", elapsed / (double)iterations, iterations,
         oqs.version());
  EVP_PKEY_free(g.key_x);
  return 0;
}
