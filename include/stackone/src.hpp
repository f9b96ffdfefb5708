//
// Include this in exactly one .cpp file, with STACKONE_SEPARATE_COMPILATION defined everywhere,
// to build the library's out-of-line code once (lib/stackone.cpp does this).
//
#ifndef STACKONE_SRC_HPP
#define STACKONE_SRC_HPP

#ifndef STACKONE_SEPARATE_COMPILATION
#error "stackone/src.hpp is for the compiled mode: define STACKONE_SEPARATE_COMPILATION"
#endif

#include <stackone/impl/client.ipp>
#include <stackone/impl/error.ipp>
#include <stackone/impl/import.ipp>
#include <stackone/impl/note.ipp>

#endif
