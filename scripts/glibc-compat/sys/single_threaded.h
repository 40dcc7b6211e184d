// Shadows glibc 2.32's <sys/single_threaded.h> for the prebuilt binaries (on the include path
// only in scripts/prebuild.mjs). libstdc++ otherwise reads __libc_single_threaded, which
// exists only since GLIBC_2.32; a constant 0 ("maybe threaded") always takes the atomic path,
// which is what an addon on libuv's thread pool needs anyway.
#pragma once

static const char __libc_single_threaded = 0;
