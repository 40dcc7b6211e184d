import { compile, type Fixture } from './old-liboqs.js';
import { nativeChildEnv, runInChild, toHex } from './environment.js';

/**
 * An LD_PRELOAD library, our own few lines of C, that looks into every block handed to free()
 * for a byte string (the hex in X0TTA6BL4_TEST_NEEDLE) and reports each block still holding it
 * on stderr: a secret there was freed without being wiped. Memory that V8 manages itself is
 * not malloc()ed and not seen; ArrayBuffer contents and the addon's own copies are.
 */
const SCANNER_SOURCE = String.raw`#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void (*real_free)(void *);
static unsigned char needle[64];
static size_t needle_length;

static int nibble(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

__attribute__((constructor)) static void start(void) {
  const char *hex = getenv("X0TTA6BL4_TEST_NEEDLE");
  size_t n = 0;
  while (hex != NULL && n < sizeof needle && nibble(hex[2 * n]) >= 0 && nibble(hex[2 * n + 1]) >= 0) {
    needle[n] = (unsigned char)(nibble(hex[2 * n]) * 16 + nibble(hex[2 * n + 1]));
    n++;
  }
  real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
  needle_length = n;
}

static void report(size_t size) {
  char line[96] = "x0tta6bl4-freed-memory: the needle is in a freed block of ";
  size_t at = strlen(line);
  char digits[24];
  int d = 0;
  do digits[d++] = (char)('0' + size % 10); while ((size /= 10) > 0);
  while (d > 0) line[at++] = digits[--d];
  memcpy(line + at, " bytes\n", 7);
  if (write(2, line, at + 7) < 0) return;
}

void free(void *block) {
  if (real_free == NULL) return;  /* before the constructor has run: leaked, never scanned */
  if (block != NULL && needle_length > 0) {
    size_t size = malloc_usable_size(block);
    if (memmem(block, size, needle, needle_length) != NULL) report(size);
  }
  real_free(block);
}
`;

let scanner: Fixture | undefined;

export function freedMemoryScanner(): Fixture {
  if (process.platform !== 'linux') {
    return { path: null, description: 'a free() scanner', missing: 'the free() scanner is preloaded with LD_PRELOAD, on Linux only' };
  }
  scanner ??= compile('freed-memory-scanner.so', SCANNER_SOURCE, 'a free() scanner', ['-ldl']);
  return scanner;
}

/**
 * Child code (top-level await) that binds `algorithm`, the raw addon's `family`/`name`, and
 * `secret`, the bytes whose hex runScanned puts in X0TTA6BL4_TEST_SECRET.
 */
export function rawAlgorithm(family: 'kem' | 'sig', name: string): string {
  const dist = (file: string) => JSON.stringify(new URL(`../../dist/${file}`, import.meta.url).href);
  return `const { loadNativeBackend } = await import(${dist('native/native-backend.js')});
    const { Op } = await import(${dist('engine.js')});
    const algorithm = new (loadNativeBackend().addon.Algorithm)(${JSON.stringify(family)}, ${JSON.stringify(name)});
    const secret = Uint8Array.from(process.env.X0TTA6BL4_TEST_SECRET.match(/../g), (pair) => parseInt(pair, 16));`;
}

/**
 * Runs `body` (as runInChild does, on the native backend) with the scanner preloaded, looking
 * for `needle`, with `secret` for rawAlgorithm. `hits` are the freed blocks that still held it.
 */
export function runScanned(body: string, needle: Uint8Array, secret: Uint8Array) {
  const result = runInChild(body, {
    ...nativeChildEnv(),
    // The scanner's free() is the sanitizer runtime's to replace (npm run test:asan): this child
    // runs the ordinary build of the addon, without that runtime.
    X0TTA6BL4_PQC_PREBUILD: undefined,
    LD_PRELOAD: freedMemoryScanner().path!,
    X0TTA6BL4_TEST_NEEDLE: toHex(needle),
    X0TTA6BL4_TEST_SECRET: toHex(secret),
  });
  const hits = result.stderr.split('\n').filter((line) => line.startsWith('x0tta6bl4-freed-memory:'));
  return { ...result, hits };
}
