// What every fuzz target in fuzz/ shares: a property check that stops the run.
#ifndef SLUICE_FUZZ_FUZZ_CHECK_H_
#define SLUICE_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

// A property that failed is a finding like a crash: print it and abort, so that
// libFuzzer writes the input to a crash file. `detail` is any std::string
// expression, evaluated only on failure.
#define FUZZ_CHECK(cond, detail)                                                            \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: property failed: %s\n  %s\n", __FILE__, __LINE__, #cond, \
                   std::string(detail).c_str());                                            \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

#endif  // SLUICE_FUZZ_FUZZ_CHECK_H_
