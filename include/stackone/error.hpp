//
// Error codes, diagnostics and the exception thrown by the coroutine API.
//
#ifndef STACKONE_ERROR_HPP
#define STACKONE_ERROR_HPP

#include <stackone/config.hpp>

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <type_traits>

namespace stackone {

using boost::system::error_code;

/**
 * @brief The library's own error codes (category `stackone`).
 *
 * HTTP statuses use a second category, see http_category(). Each code's message says whether
 * the request may have reached the server; diagnostics::may_have_been_processed says it for the
 * call at hand.
 */
enum class errc
{
    // Refused locally: nothing was sent.
    invalid_candidate_id = 1, ///< empty, ".", ".." or otherwise unusable path segment
    invalid_header_value,     ///< CR, LF or NUL in a header value (account id, user agent, key)
    missing_account_id,       ///< neither the call nor the client names a linked account
    missing_api_key,          ///< the client has no API key
    invalid_base_url,         ///< not an absolute http:// or https:// URL without query/fragment
    non_finite_number,        ///< an infinite or NaN double in `passthrough` or `source_value`

    // Transport: before any request byte was written.
    resolve_failed,        ///< the host name did not resolve
    connect_failed,        ///< every resolved address refused or was unreachable
    connect_timeout,       ///< TCP connect did not finish in time
    tls_handshake_failed,  ///< TLS handshake failed (certificate, host name, protocol)
    tls_handshake_timeout, ///< TLS handshake did not finish in time

    // Transport: after request bytes may have been written.
    connection_closed, ///< the peer closed or reset the connection before a full response
    attempt_timeout,   ///< one attempt exceeded retry_options::attempt_timeout
    heartbeat_timeout, ///< no byte arrived for heartbeat_gap
    deadline_exceeded, ///< the overall deadline of the call passed

    // The response could not be used.
    malformed_response,      ///< not HTTP, or a success body that is not the documented JSON
    empty_body,              ///< the body held nothing but whitespace (heartbeats)
    header_too_large,        ///< the response head exceeded limits::header_bytes
    body_too_large,          ///< the JSON body exceeded limits::body_bytes
    too_many_heartbeats,     ///< more heartbeat bytes than limits::heartbeat_bytes
    heartbeat_time_exceeded, ///< heartbeats went on longer than limits::heartbeat_time
    truncated, ///< the body ended early (close mid-body, TLS EOF without close_notify)

    // Retry outcomes.
    retry_after_too_long,   ///< the server asked to wait longer than max_retry_after
    retry_budget_exhausted, ///< the client-wide retry budget is empty

    // Lifecycle.
    cancelled,     ///< the caller cancelled the operation
    shutting_down, ///< the client is shutting down
    internal_error ///< a bug: an unexpected exception inside the library
};

/// The category of errc.
STACKONE_DECL const boost::system::error_category& stackone_category() noexcept;

/// The category of HTTP statuses (the error value is the status code, e.g. 429).
STACKONE_DECL const boost::system::error_category& http_category() noexcept;

/// Makes an error_code from an errc.
inline error_code make_error_code(errc e) noexcept
{
    return error_code(static_cast<int>(e), stackone_category());
}

/// Makes an error_code for an HTTP status returned by the server.
inline error_code make_http_error(int status) noexcept
{
    return error_code(status, http_category());
}

/**
 * @brief Whether an error status leaves open that the note was created anyway.
 *
 * True for 408 (StackOne gave up waiting; the provider may have finished) and for every 5xx
 * but 501 (the failure may have come after the provider created the note, e.g. a 502 for a
 * provider that answered badly). Other statuses are refusals: nothing was created, and the
 * same request may be sent again.
 */
constexpr bool status_may_have_created(int status) noexcept
{
    return status == 408 || (status >= 500 && status != 501);
}

/// True when @p ec is an HTTP status error; the status is then `ec.value()`.
inline bool is_http_error(const error_code& ec) noexcept
{
    return ec.category() == http_category();
}

/**
 * @brief What is known about a call, on success and failure alike.
 *
 * For errors carries the server's `message`, `provider_errors` and an excerpt of the raw body,
 * whatever the status.
 */
struct diagnostics
{
    /// Status line of the last response, 0 when none arrived.
    int http_status = 0;

    /// `statusCode` from the last response body, 0 when absent.
    int body_status = 0;

    /// The server's `message`, when the body had one.
    std::string message;

    /// The server's `provider_errors`, or null when absent.
    boost::json::value provider_errors;

    /// The whole parsed error body (unknown members such as `errorCode` kept), or null.
    boost::json::value body;

    /// The first bytes of the last raw body (at most 1 KiB), for bodies that were not JSON.
    std::string body_excerpt;

    /// A human-readable description of a local failure (e.g. the TLS verification reason).
    std::string detail;

    /// The last `Retry-After` value as received, when the server sent one.
    std::string retry_after;

    /// Attempts made (requests written or tried).
    int attempts = 0;

    /// True when the request may have reached the server and created the note.
    bool may_have_been_processed = false;

    /// True when an earlier attempt may have created the note too (e.g. a replayed 408).
    bool possible_duplicate = false;
};

/**
 * @brief The exception thrown by the coroutine API on failure.
 *
 * Carries the error_code (errc or an HTTP status) and the call's diagnostics. Its what() never
 * contains the API key or the Authorization header.
 */
class error : public boost::system::system_error
{
public:
    error(error_code ec, diagnostics diag)
        : boost::system::system_error(ec, describe(ec, diag)), diag_(std::move(diag))
    {}

    /// Diagnostics of the failed call.
    const diagnostics& diag() const noexcept { return diag_; }

private:
    STACKONE_DECL static std::string describe(const error_code& ec, const diagnostics& diag);

    diagnostics diag_;
};

} // namespace stackone

namespace boost::system {
template <>
struct is_error_code_enum<stackone::errc> : std::true_type
{};
} // namespace boost::system

#ifdef STACKONE_HEADER_ONLY
#include <stackone/impl/error.ipp>
#endif

#endif
