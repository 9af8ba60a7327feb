#pragma once
// Tests that read ../shared: skipped where the data is absent (a bare checkout), but failed in CI (CI=true),
// where the data must be there and a skip would hide a test that never ran.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace maskterial::test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

}  // namespace maskterial::test

#define REQUIRE_SHARED_DATA(present, what)                                             \
  do {                                                                                 \
    if (!(present)) {                                                                  \
      if (::maskterial::test::in_ci()) FAIL() << "CI=true but " << what;                \
      GTEST_SKIP() << what;                                                            \
    }                                                                                  \
  } while (0)
