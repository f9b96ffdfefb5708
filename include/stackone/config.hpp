//
// Build-mode switches shared by every public header.
//
#ifndef STACKONE_CONFIG_HPP
#define STACKONE_CONFIG_HPP

// Header-only by default: every out-of-line function is `inline` and the public headers pull in
// their `impl/*.ipp` bodies. Defining STACKONE_SEPARATE_COMPILATION (the compiled library in
// lib/ does, and so does its Meson dependency) keeps the heavy Beast/TLS code in one object file,
// so a user's file that includes the client compiles in seconds.
#ifdef STACKONE_SEPARATE_COMPILATION
#define STACKONE_DECL
#else
#define STACKONE_DECL inline
#define STACKONE_HEADER_ONLY 1
#endif

#endif
