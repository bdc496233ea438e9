#include "engine/core/check.h"

#include <cstdio>
#include <cstdlib>

namespace tl::check_internal {

void Fail(const char* file, int line, const char* expr, const std::string& values) {
  if (values.empty()) {
    std::fprintf(stderr, "%s:%d: TL_CHECK failed: %s\n", file, line, expr);
  } else {
    std::fprintf(stderr, "%s:%d: TL_CHECK failed: %s (%s)\n", file, line, expr, values.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace tl::check_internal
