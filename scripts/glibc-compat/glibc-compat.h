// Force-included into the prebuilt binaries only (scripts/prebuild.mjs), never into a local
// build, which links against the glibc it runs on.
//
// glibc 2.34 moved dlopen & co. from libdl into libc under a new version, GLIBC_2.34, so a
// build on a newer glibc refuses to load on RHEL 8, Debian 11 or Ubuntu 20.04. libc still
// exports the original versions; binding to those keeps the floor at the architecture's base.
#pragma once

#if defined(__x86_64__)
#define PQC_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define PQC_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc-compat.h: no base glibc version known for this architecture"
#endif

#define PQC_OLD_SYMBOL(name) __asm__(".symver " #name "," #name "@" PQC_GLIBC_BASE)
PQC_OLD_SYMBOL(dlopen);
PQC_OLD_SYMBOL(dlsym);
PQC_OLD_SYMBOL(dlclose);
PQC_OLD_SYMBOL(dlerror);
PQC_OLD_SYMBOL(dladdr);
#undef PQC_OLD_SYMBOL
