// liboqs's own speed for `npm run bench`: scripts/bench.mjs compiles this file with `cc -O2`
// into a temporary directory and runs it beside the package, on the same liboqs file.
//
//   bench-harness <liboqs-file> <algorithm> <op> <iterations> [threads] [warm-up-ms]
//
// op is keygen, encaps or decaps (a KEM) or keypair, sign or verify (a signature scheme).
// Prints one line, `ns_per_op=<wall ns / iterations> iterations=<n> threads=<t>
// version=<liboqs>`. With threads > 1 the iterations are split over that many threads, each
// with its own keys and buffers, and ns_per_op is the wall time over all of them.
//
// Like csrc/liboqs.cc it binds to liboqs at run time with dlopen and declares the little it
// uses: no liboqs headers, nothing linked at build time, exported functions only, and of the
// structs only the prefixes that every release from 0.12.0 to 0.16.0 shares.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int oqs_status;  // OQS_SUCCESS == 0

// OQS_KEM: identical up to here in every release; 0.13 inserted fields after it.
typedef struct {
  const char *method_name;
  const char *alg_version;
  uint8_t claimed_nist_level;
  bool ind_cca;
  size_t length_public_key;
  size_t length_secret_key;
  size_t length_ciphertext;
  size_t length_shared_secret;
} oqs_kem;

// OQS_SIG: two pointers, one-byte flags (3 before 0.13, 4 since), then the lengths at the same
// size_t boundary.
typedef struct {
  const char *method_name;
  const char *alg_version;
  uint8_t flag_bytes[4];
  size_t length_public_key;
  size_t length_secret_key;
  size_t length_signature;
} oqs_sig;

static struct {
  const char *(*version)(void);
  void (*init)(void);
  oqs_kem *(*kem_new)(const char *);
  void (*kem_free)(oqs_kem *);
  oqs_status (*kem_keypair)(const oqs_kem *, uint8_t *pk, uint8_t *sk);
  oqs_status (*kem_encaps)(const oqs_kem *, uint8_t *ct, uint8_t *ss, const uint8_t *pk);
  oqs_status (*kem_decaps)(const oqs_kem *, uint8_t *ss, const uint8_t *ct, const uint8_t *sk);
  oqs_sig *(*sig_new)(const char *);
  void (*sig_free)(oqs_sig *);
  oqs_status (*sig_keypair)(const oqs_sig *, uint8_t *pk, uint8_t *sk);
  oqs_status (*sig_sign)(const oqs_sig *, uint8_t *sig, size_t *sig_len, const uint8_t *msg,
                         size_t msg_len, const uint8_t *sk);
  oqs_status (*sig_verify)(const oqs_sig *, const uint8_t *msg, size_t msg_len,
                           const uint8_t *sig, size_t sig_len, const uint8_t *pk);
} oqs;

enum op { KEM_KEYGEN, KEM_ENCAPS, KEM_DECAPS, SIG_KEYPAIR, SIG_SIGN, SIG_VERIFY };
static const char *const kOpNames[] = {"keygen", "encaps", "decaps", "keypair", "sign", "verify"};

// The message bench.mjs signs too.
enum { kMessageLength = 64 };

static enum op g_op;
static const oqs_kem *g_kem;
static const oqs_sig *g_sig;
static double g_warmup_ns;
static pthread_barrier_t g_start;

// One thread's keys, inputs and outputs, prepared before timing.
struct worker {
  pthread_t thread;
  long iterations;
  double start_ns, end_ns;  // of this thread's timed loop
  uint8_t *pk, *sk, *ct, *ss, *sig;
  size_t sig_len;
  uint8_t msg[kMessageLength];
  int failed;
};

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench-harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
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

static uint8_t *alloc(size_t length) {
  uint8_t *p = malloc(length ? length : 1);
  if (p == NULL) die("out of memory", NULL);
  memset(p, 0, length);
  return p;
}

static oqs_status run_once(struct worker *w) {
  switch (g_op) {
    case KEM_KEYGEN:
      return oqs.kem_keypair(g_kem, w->pk, w->sk);
    case KEM_ENCAPS:
      return oqs.kem_encaps(g_kem, w->ct, w->ss, w->pk);
    case KEM_DECAPS:
      return oqs.kem_decaps(g_kem, w->ss, w->ct, w->sk);
    case SIG_KEYPAIR:
      return oqs.sig_keypair(g_sig, w->pk, w->sk);
    case SIG_SIGN:
      return oqs.sig_sign(g_sig, w->sig, &w->sig_len, w->msg, kMessageLength, w->sk);
    case SIG_VERIFY:
      return oqs.sig_verify(g_sig, w->msg, kMessageLength, w->sig, w->sig_len, w->pk);
  }
  return -1;
}

// A key pair and, for decaps and verify, a valid input to work on.
static void prepare(struct worker *w, unsigned index) {
  for (size_t i = 0; i < kMessageLength; i++) w->msg[i] = (uint8_t)(i * 7 + index);
  if (g_kem != NULL) {
    w->pk = alloc(g_kem->length_public_key);
    w->sk = alloc(g_kem->length_secret_key);
    w->ct = alloc(g_kem->length_ciphertext);
    w->ss = alloc(g_kem->length_shared_secret);
    if (oqs.kem_keypair(g_kem, w->pk, w->sk) != 0 || oqs.kem_encaps(g_kem, w->ct, w->ss, w->pk) != 0) {
      die("setup failed", g_kem->method_name);
    }
  } else {
    w->pk = alloc(g_sig->length_public_key);
    w->sk = alloc(g_sig->length_secret_key);
    w->sig = alloc(g_sig->length_signature);
    w->sig_len = g_sig->length_signature;
    if (oqs.sig_keypair(g_sig, w->pk, w->sk) != 0 ||
        oqs.sig_sign(g_sig, w->sig, &w->sig_len, w->msg, kMessageLength, w->sk) != 0) {
      die("setup failed", g_sig->method_name);
    }
  }
}

static void *work(void *arg) {
  struct worker *w = arg;
  // Warm up caches, branch predictors and clocks; at least two calls.
  const double until = now_ns() + g_warmup_ns;
  for (int n = 0; n < 2 || now_ns() < until; n++) {
    if (run_once(w) != 0) w->failed = 1;
  }
  pthread_barrier_wait(&g_start);
  // Timed here, not by the main thread, which a busy machine may not schedule promptly.
  w->start_ns = now_ns();
  for (long i = 0; i < w->iterations; i++) {
    if (run_once(w) != 0) w->failed = 1;
  }
  w->end_ns = now_ns();
  return NULL;
}

static long parse_positive(const char *text, const char *what) {
  char *end = NULL;
  const long value = strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1) die(what, "must be a positive integer");
  return value;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr,
            "usage: %s <liboqs-file> <algorithm> <keygen|encaps|decaps|keypair|sign|verify> "
            "<iterations> [threads] [warm-up-ms]\n",
            argv[0]);
    return 2;
  }
  const char *path = argv[1];
  const char *algorithm = argv[2];
  int op = -1;
  for (int i = 0; i < (int)(sizeof kOpNames / sizeof kOpNames[0]); i++) {
    if (strcmp(argv[3], kOpNames[i]) == 0) op = i;
  }
  if (op < 0) die("unknown operation", argv[3]);
  g_op = (enum op)op;
  const long iterations = parse_positive(argv[4], "iterations");
  const long threads = argc > 5 ? parse_positive(argv[5], "threads") : 1;
  g_warmup_ns = (argc > 6 ? (double)parse_positive(argv[6], "warm-up-ms") : 25.0) * 1e6;

  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) die("cannot open liboqs", dlerror());
  *(void **)&oqs.version = resolve(lib, "OQS_version");
  *(void **)&oqs.init = resolve(lib, "OQS_init");
  oqs.init();

  const bool is_kem = g_op <= KEM_DECAPS;
  if (is_kem) {
    *(void **)&oqs.kem_new = resolve(lib, "OQS_KEM_new");
    *(void **)&oqs.kem_free = resolve(lib, "OQS_KEM_free");
    *(void **)&oqs.kem_keypair = resolve(lib, "OQS_KEM_keypair");
    *(void **)&oqs.kem_encaps = resolve(lib, "OQS_KEM_encaps");
    *(void **)&oqs.kem_decaps = resolve(lib, "OQS_KEM_decaps");
    g_kem = oqs.kem_new(algorithm);
    if (g_kem == NULL) die("KEM not enabled in this liboqs", algorithm);
  } else {
    *(void **)&oqs.sig_new = resolve(lib, "OQS_SIG_new");
    *(void **)&oqs.sig_free = resolve(lib, "OQS_SIG_free");
    *(void **)&oqs.sig_keypair = resolve(lib, "OQS_SIG_keypair");
    *(void **)&oqs.sig_sign = resolve(lib, "OQS_SIG_sign");
    *(void **)&oqs.sig_verify = resolve(lib, "OQS_SIG_verify");
    g_sig = oqs.sig_new(algorithm);
    if (g_sig == NULL) die("signature scheme not enabled in this liboqs", algorithm);
  }

  struct worker *workers = calloc((size_t)threads, sizeof *workers);
  if (workers == NULL) die("out of memory", NULL);
  const long per_thread = (iterations + threads - 1) / threads;
  for (long t = 0; t < threads; t++) {
    prepare(&workers[t], (unsigned)t);
    workers[t].iterations = per_thread;
  }
  if (pthread_barrier_init(&g_start, NULL, (unsigned)threads + 1) != 0) die("pthread_barrier_init", NULL);
  for (long t = 0; t < threads; t++) {
    if (pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0) die("pthread_create", NULL);
  }
  pthread_barrier_wait(&g_start);
  int failed = 0;
  double start = 0, end = 0;
  for (long t = 0; t < threads; t++) {
    pthread_join(workers[t].thread, NULL);
    failed |= workers[t].failed;
    if (t == 0 || workers[t].start_ns < start) start = workers[t].start_ns;
    if (t == 0 || workers[t].end_ns > end) end = workers[t].end_ns;
  }
  const double elapsed = end - start;
  if (failed) die(algorithm, "liboqs reported an error during the timed run");

  const long total = per_thread * threads;
  printf("ns_per_op=%.1f iterations=%ld threads=%ld version=%s\n", elapsed / (double)total, total,
         threads, oqs.version());

  for (long t = 0; t < threads; t++) {
    free(workers[t].pk);
    free(workers[t].sk);
    free(workers[t].ct);
    free(workers[t].ss);
    free(workers[t].sig);
  }
  free(workers);
  if (g_kem != NULL) oqs.kem_free((oqs_kem *)g_kem);
  if (g_sig != NULL) oqs.sig_free((oqs_sig *)g_sig);
  return 0;
}
