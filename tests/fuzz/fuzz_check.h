// Tiny assertion helper for the libFuzzer targets: an invariant violation aborts with a message so
// libFuzzer records the input as a crash. Test-only; never used by src/.
#pragma once

#include <cstdio>
#include <cstdlib>

#define SOFTNDK_FUZZ_CHECK(cond)                                                             \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
