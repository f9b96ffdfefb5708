// The compiled mode of the library: every out-of-line body, built once.
#ifndef STACKONE_SEPARATE_COMPILATION
#error "lib/stackone.cpp is the compiled mode: build it with STACKONE_SEPARATE_COMPILATION"
#endif

#include <stackone/src.hpp>
