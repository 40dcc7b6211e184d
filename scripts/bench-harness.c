// liboqs's own speed for `npm run bench`: scripts/bench.mjs compiles this file with `cc -O2`
// into a temporary directory and runs it beside the package, on the same liboqs file.
//
//   bench-harness <liboqs-file> <algorithm> <op> <iterations> [threads] [warm-up-ms]
//   bench-harness <liboqs-file> -
//
// op is keygen, encaps or decaps (a KEM) or keypair, sign or verify (a signature scheme).
// A run prints one line, `ns_per_op=<wall ns / iterations> iterations=<n> threads=<t>
// version=<liboqs>`, or `error=<why>`. With threads > 1 the iterations are split over that many
// threads, each with its own keys and buffers, and ns_per_op is the wall time over all of them.
//
// With `-` it reads one run per line from stdin, `<algorithm> <op> <iterations> [threads]
// [warm-up-ms]`, and answers each with its line until end of input. bench.mjs starts it once
// like that: every spawn forks the Node process, and after a fork the parent's next writes to
// each page of its heap take a copy-on-write fault, which would be charged to the next
// measurement of the package (about one fault per key pair, ~10 µs each on a VM).
//
// Like csrc/liboqs.cc it binds to liboqs at run time with dlopen and declares the little it
// uses: no liboqs headers, nothing linked at build time, exported functions only, and of the
// structs only the prefixes that every release from 0.12.0 to 0.16.0 shares.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oqs_prefix.h"

typedef OqsKemPrefix oqs_kem;
typedef OqsSigPrefix oqs_sig;

typedef int oqs_status;  // OQS_SUCCESS == 0





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
enum { kOpCount = sizeof kOpNames / sizeof kOpNames[0] };

// The message bench.mjs signs too.
enum { kMessageLength = 64 };

// One run: what to time, on which scheme (exactly one of kem and sig is set).
struct run {
  enum op op;
  const oqs_kem *kem;
  const oqs_sig *sig;
  double warmup_ns;
  pthread_barrier_t start;
};

// One thread's keys, inputs and outputs, prepared before timing.
struct worker {
  struct run *run;
  pthread_t thread;
  long iterations;
  double start_ns, end_ns;  // of this thread's timed loop
  uint8_t *pk, *sk, *ct, *ss, *sig;
  size_t sig_len;
  uint8_t msg[kMessageLength];
  bool failed;
};

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static oqs_status run_once(const struct run *r, struct worker *w) {
  switch (r->op) {
    case KEM_KEYGEN:
      return oqs.kem_keypair(r->kem, w->pk, w->sk);
    case KEM_ENCAPS:
      return oqs.kem_encaps(r->kem, w->ct, w->ss, w->pk);
    case KEM_DECAPS:
      return oqs.kem_decaps(r->kem, w->ss, w->ct, w->sk);
    case SIG_KEYPAIR:
      return oqs.sig_keypair(r->sig, w->pk, w->sk);
    case SIG_SIGN:
      return oqs.sig_sign(r->sig, w->sig, &w->sig_len, w->msg, kMessageLength, w->sk);
    case SIG_VERIFY:
      return oqs.sig_verify(r->sig, w->msg, kMessageLength, w->sig, w->sig_len, w->pk);
  }
  return -1;
}

static void release(struct worker *w) {
  free(w->pk);
  free(w->sk);
  free(w->ct);
  free(w->ss);
  free(w->sig);
}

// A key pair and, for decaps and verify, a valid input to work on. False when liboqs fails.
static bool prepare(const struct run *r, struct worker *w, unsigned index) {
  for (size_t i = 0; i < kMessageLength; i++) w->msg[i] = (uint8_t)(i * 7 + index);
  if (r->kem != NULL) {
    w->pk = calloc(1, r->kem->length_public_key);
    w->sk = calloc(1, r->kem->length_secret_key);
    w->ct = calloc(1, r->kem->length_ciphertext);
    w->ss = calloc(1, r->kem->length_shared_secret);
    return w->pk && w->sk && w->ct && w->ss && oqs.kem_keypair(r->kem, w->pk, w->sk) == 0 &&
           oqs.kem_encaps(r->kem, w->ct, w->ss, w->pk) == 0;
  }
  w->pk = calloc(1, r->sig->length_public_key);
  w->sk = calloc(1, r->sig->length_secret_key);
  w->sig = calloc(1, r->sig->length_signature);
  w->sig_len = r->sig->length_signature;
  return w->pk && w->sk && w->sig && oqs.sig_keypair(r->sig, w->pk, w->sk) == 0 &&
         oqs.sig_sign(r->sig, w->sig, &w->sig_len, w->msg, kMessageLength, w->sk) == 0;
}

static void *work(void *arg) {
  struct worker *w = arg;
  const struct run *r = w->run;
  // Warm up caches, branch predictors and clocks; at least two calls.
  const double until = now_ns() + r->warmup_ns;
  for (int n = 0; n < 2 || now_ns() < until; n++) {
    if (run_once(r, w) != 0) w->failed = true;
  }
  pthread_barrier_wait(&w->run->start);
  // Timed here, not by the main thread, which a busy machine may not schedule promptly.
  w->start_ns = now_ns();
  for (long i = 0; i < w->iterations; i++) {
    if (run_once(r, w) != 0) w->failed = true;
  }
  w->end_ns = now_ns();
  return NULL;
}

// Times `iterations` calls of `op` on `threads` threads and prints the result line. Returns
// NULL, or why it could not.
// Threads kept from run to run and woken for each, as libuv's pool is for a batch: a run with
// no warm-up (warm-up-ms 0) goes to them. They take the run's operations one at a time, as a
// batch's workers take its items, and the run is timed from the wake-up to the last operation.
static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  long size;                 // threads created so far
  unsigned long generation;  // one per run
  const struct run *run;
  struct worker *workers;    // this run's keys and buffers, one per taking part thread
  long active;               // threads taking part in this run: the first `active`
  long remaining;            // of those, still working
  long total;                // operations in this run
  atomic_long next;          // the next operation to take
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void *pool_thread(void *arg) {
  const long index = (long)(intptr_t)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    seen = pool.generation;
    if (index >= pool.active) continue;
    const struct run *r = pool.run;
    struct worker *w = &pool.workers[index];
    pthread_mutex_unlock(&pool.lock);
    while (atomic_fetch_add(&pool.next, 1) < pool.total) {
      if (run_once(r, w) != 0) w->failed = true;
    }
    w->end_ns = now_ns();
    pthread_mutex_lock(&pool.lock);
    if (--pool.remaining == 0) pthread_cond_signal(&pool.done);
  }
  return NULL;
}

// Runs `iterations` operations on the pool's first `threads` threads; their start time is the
// wake-up's.
static void run_pooled(const struct run *r, struct worker *workers, long threads, long iterations) {
  pthread_mutex_lock(&pool.lock);
  for (; pool.size < threads; pool.size++) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, pool_thread, (void *)(intptr_t)pool.size) != 0) {
      fprintf(stderr, "bench-harness: pthread_create failed\n");
      exit(1);
    }
    pthread_detach(thread);
  }
  pool.run = r;
  pool.workers = workers;
  pool.active = threads;
  pool.remaining = threads;
  pool.total = iterations;
  atomic_store(&pool.next, 0);
  const double start = now_ns();
  for (long t = 0; t < threads; t++) workers[t].start_ns = start;
  pool.generation++;
  pthread_cond_broadcast(&pool.wake);
  while (pool.remaining > 0) pthread_cond_wait(&pool.done, &pool.lock);
  pthread_mutex_unlock(&pool.lock);
}

static void start_threads(struct run *r, struct worker *workers, long threads);

static const char *measure(const char *algorithm, enum op op, long iterations, long threads,
                           long warmup_ms) {
  struct run r = {.op = op, .warmup_ns = (double)warmup_ms * 1e6};
  if (op <= KEM_DECAPS) {
    r.kem = oqs.kem_new(algorithm);
    if (r.kem == NULL) return "KEM not enabled in this liboqs";
  } else {
    r.sig = oqs.sig_new(algorithm);
    if (r.sig == NULL) return "signature scheme not enabled in this liboqs";
  }
  const char *error = NULL;
  struct worker *workers = calloc((size_t)threads, sizeof *workers);
  const long per_thread = (iterations + threads - 1) / threads;
  long prepared = 0;
  if (workers == NULL) {
    error = "out of memory";
    goto done;
  }
  for (; prepared < threads; prepared++) {
    workers[prepared].run = &r;
    workers[prepared].iterations = per_thread;
    if (!prepare(&r, &workers[prepared], (unsigned)prepared)) {
      prepared++;
      error = "liboqs failed while preparing keys";
      goto done;
    }
  }
  const bool pooled = warmup_ms == 0;
  const long total = pooled ? iterations : per_thread * threads;
  if (pooled) {
    run_pooled(&r, workers, threads, iterations);
  } else if (pthread_barrier_init(&r.start, NULL, (unsigned)threads + 1) != 0) {
    error = "pthread_barrier_init failed";
    goto done;
  } else {
    start_threads(&r, workers, threads);
  }
  bool failed = false;
  double start = 0, end = 0;
  for (long t = 0; t < threads; t++) {
    failed |= workers[t].failed;
    if (t == 0 || workers[t].start_ns < start) start = workers[t].start_ns;
    if (t == 0 || workers[t].end_ns > end) end = workers[t].end_ns;
  }
  if (failed) {
    error = "liboqs reported an error during the timed run";
    goto done;
  }
  printf("ns_per_op=%.1f iterations=%ld threads=%ld version=%s\n", (end - start) / (double)total,
         total, threads, oqs.version());
  fflush(stdout);

done:
  for (long t = 0; t < prepared; t++) release(&workers[t]);
  free(workers);
  if (r.kem != NULL) oqs.kem_free((oqs_kem *)r.kem);
  if (r.sig != NULL) oqs.sig_free((oqs_sig *)r.sig);
  return error;
}

// A warm run: its own threads, each warmed up, timed from when every one of them is running.
static void start_threads(struct run *r, struct worker *workers, long threads) {
  long started = 0;
  for (; started < threads; started++) {
    if (pthread_create(&workers[started].thread, NULL, work, &workers[started]) != 0) break;
  }
  if (started < threads) {
    // The barrier cannot open without every thread: nothing more can run here.
    fprintf(stderr, "bench-harness: pthread_create failed\n");
    exit(1);
  }
  pthread_barrier_wait(&r->start);
  for (long t = 0; t < threads; t++) pthread_join(workers[t].thread, NULL);
  pthread_barrier_destroy(&r->start);
}

static bool parse_at_least(const char *text, long min, long *out) {
  char *end = NULL;
  const long value = text != NULL ? strtol(text, &end, 10) : 0;
  if (text == NULL || end == text || *end != '\0' || value < min) return false;
  *out = value;
  return true;
}

static bool parse_positive(const char *text, long *out) { return parse_at_least(text, 1, out); }

// Runs one command given as words: algorithm op iterations [threads] [warm-up-ms].
static const char *command(int argc, char **argv) {
  if (argc < 3 || argc > 5) return "expected <algorithm> <op> <iterations> [threads] [warm-up-ms]";
  int op = -1;
  for (int i = 0; i < kOpCount; i++) {
    if (strcmp(argv[1], kOpNames[i]) == 0) op = i;
  }
  if (op < 0) return "op must be keygen, encaps, decaps, keypair, sign or verify";
  long iterations = 0, threads = 1, warmup_ms = 25;
  if (!parse_positive(argv[2], &iterations)) return "iterations must be a positive integer";
  if (argc > 3 && (!parse_positive(argv[3], &threads) || threads > 256)) {
    return "threads must be an integer from 1 to 256";
  }
  // 0: no warm-up: the run goes to the kept threads, as a batch goes to the pool (see pool).
  if (argc > 4 && !parse_at_least(argv[4], 0, &warmup_ms)) return "warm-up-ms must be an integer >= 0";
  return measure(argv[0], (enum op)op, iterations, threads, warmup_ms);
}

static void *resolve(void *lib, const char *symbol) {
  void *fn = dlsym(lib, symbol);
  if (fn == NULL) {
    fprintf(stderr, "bench-harness: liboqs lacks the symbol %s\n", symbol);
    exit(1);
  }
  return fn;
}

int main(int argc, char **argv) {
  const bool serve = argc == 3 && strcmp(argv[2], "-") == 0;
  if (!serve && (argc < 5 || argc > 7)) {
    fprintf(stderr,
            "usage: %s <liboqs-file> <algorithm> <keygen|encaps|decaps|keypair|sign|verify> "
            "<iterations> [threads] [warm-up-ms]\n"
            "       %s <liboqs-file> -    (one such run per line on stdin)\n",
            argv[0], argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "bench-harness: cannot open liboqs: %s\n", dlerror());
    return 1;
  }
  *(void **)&oqs.version = resolve(lib, "OQS_version");
  *(void **)&oqs.init = resolve(lib, "OQS_init");
  *(void **)&oqs.kem_new = resolve(lib, "OQS_KEM_new");
  *(void **)&oqs.kem_free = resolve(lib, "OQS_KEM_free");
  *(void **)&oqs.kem_keypair = resolve(lib, "OQS_KEM_keypair");
  *(void **)&oqs.kem_encaps = resolve(lib, "OQS_KEM_encaps");
  *(void **)&oqs.kem_decaps = resolve(lib, "OQS_KEM_decaps");
  *(void **)&oqs.sig_new = resolve(lib, "OQS_SIG_new");
  *(void **)&oqs.sig_free = resolve(lib, "OQS_SIG_free");
  *(void **)&oqs.sig_keypair = resolve(lib, "OQS_SIG_keypair");
  *(void **)&oqs.sig_sign = resolve(lib, "OQS_SIG_sign");
  *(void **)&oqs.sig_verify = resolve(lib, "OQS_SIG_verify");
  oqs.init();

  if (!serve) {
    const char *error = command(argc - 2, argv + 2);
    if (error != NULL) {
      printf("error=%s\n", error);
      return 1;
    }
    return 0;
  }
  char line[512];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *words[6];
    int count = 0;
    for (char *save = NULL, *word = strtok_r(line, " \t\r\n", &save); word != NULL;
         word = strtok_r(NULL, " \t\r\n", &save)) {
      if (count == 6) break;
      words[count++] = word;
    }
    if (count == 0) continue;
    const char *error = count < 6 ? command(count, words) : "too many words";
    if (error != NULL) {
      printf("error=%s\n", error);
      fflush(stdout);
    }
  }
  return 0;
}
