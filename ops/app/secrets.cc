#include "ops/app/secrets.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace tl::app {

absl::StatusOr<std::string> ReadSecret(const std::string& file, const char* env) {
  std::string out;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read secret file ", file));
    std::stringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  } else if (const char* v = std::getenv(env); v != nullptr) {
    out = v;
  }
  return out;
}

}  // namespace tl::app
