// TL_CHECK: assertions for programmer errors, always on (release builds too).
//
// The policy (ops/ERRORS.md): a broken promise between two pieces of our own
// code (an index out of range, a precondition the caller had to meet, a result
// a function promised) is a bug, so it stops the process at once with the
// file, the line, the expression and the values: continuing would write wrong
// events into a ledger that is forever. Anything that outside data or the
// world can cause (a bad request, a corrupt record, a store that went away) is
// an absl::Status, never a check. Checks are paired at boundaries: what a
// function needs is checked where it starts, what it promises where it returns.
#pragma once

#include <sstream>
#include <string>

namespace tl::check_internal {

[[noreturn]] void Fail(const char* file, int line, const char* expr, const std::string& values);

template <typename A, typename B>
std::string Values(const A& a, const B& b) {
  std::ostringstream out;
  out << a << " vs " << b;
  return out.str();
}

}  // namespace tl::check_internal

#define TL_CHECK(cond)                                                      \
  do {                                                                      \
    if (!(cond)) [[unlikely]]                                               \
      ::tl::check_internal::Fail(__FILE__, __LINE__, #cond, std::string()); \
  } while (0)

#define TL_CHECK_OP_(a, op, b)                                                            \
  do {                                                                                    \
    const auto& tl_check_a_ = (a);                                                        \
    const auto& tl_check_b_ = (b);                                                        \
    if (!(tl_check_a_ op tl_check_b_)) [[unlikely]]                                       \
      ::tl::check_internal::Fail(__FILE__, __LINE__, #a " " #op " " #b,                   \
                                 ::tl::check_internal::Values(tl_check_a_, tl_check_b_)); \
  } while (0)

#define TL_CHECK_EQ(a, b) TL_CHECK_OP_(a, ==, b)
#define TL_CHECK_NE(a, b) TL_CHECK_OP_(a, !=, b)
#define TL_CHECK_LT(a, b) TL_CHECK_OP_(a, <, b)
#define TL_CHECK_LE(a, b) TL_CHECK_OP_(a, <=, b)
#define TL_CHECK_GT(a, b) TL_CHECK_OP_(a, >, b)
#define TL_CHECK_GE(a, b) TL_CHECK_OP_(a, >=, b)
