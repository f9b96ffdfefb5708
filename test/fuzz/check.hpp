// The invariant check of the fuzz targets: a failed one names its line and aborts, which
// libFuzzer reports as a crash and saves the input.
#ifndef STACKONE_TEST_FUZZ_CHECK_HPP
#define STACKONE_TEST_FUZZ_CHECK_HPP

#include <cstdio>
#include <cstdlib>

namespace stackone::fuzz {

// clang 14 has no std::source_location; its builtins give the caller's line all the same.
inline void check(bool ok, const char* file = __builtin_FILE(), int line = __builtin_LINE())
{
    if (ok)
        return;
    std::fprintf(stderr, "invariant failed: %s:%d\n", file, line);
    std::abort();
}

} // namespace stackone::fuzz

#endif
