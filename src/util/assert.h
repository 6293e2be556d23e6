// Internal invariant checks. SOFTNDK_CHECK is fatal in every build; SOFTNDK_ASSERT only in debug.
// Never use either on anything a consumer or a peer controls: those get a status or a Terminate.
#pragma once

#include <cstdio>
#include <cstdlib>

#define SOFTNDK_CHECK(cond, msg)                                                        \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "softndk: internal invariant failed at %s:%d: %s (%s)\n",    \
                   __FILE__, __LINE__, #cond, msg);                                      \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

#ifndef NDEBUG
#define SOFTNDK_ASSERT(cond, msg) SOFTNDK_CHECK(cond, msg)
#else
#define SOFTNDK_ASSERT(cond, msg) \
  do {                            \
  } while (0)
#endif
