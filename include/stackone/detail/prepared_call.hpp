//
// A call encoded up front, so nothing the caller passed is read after initiation.
//
#ifndef STACKONE_DETAIL_PREPARED_CALL_HPP
#define STACKONE_DETAIL_PREPARED_CALL_HPP

#include <stackone/error.hpp>
#include <stackone/options.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace stackone::detail {

class client_impl;

// Everything one call needs, owned by value. The request bytes are rendered once and written
// unchanged by every attempt, so a retry is byte-identical to the first try.
struct prepared_call
{
    // Set when the arguments were refused; nothing is sent then.
    error_code ec;
    std::string detail;

    std::string request;      // the whole HTTP/1.1 request: head and body
    std::string candidate_id; // decoded, for logs and diagnostics
    std::string account_id;   // the linked account: 429 pauses are shared per account
    bool heartbeat = false;
    std::chrono::milliseconds deadline{0};
    std::optional<retry_options> retry;
};

} // namespace stackone::detail

#endif
