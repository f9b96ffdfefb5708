//
// Out-of-line bodies of error.hpp.
//
#ifndef STACKONE_IMPL_ERROR_IPP
#define STACKONE_IMPL_ERROR_IPP

#include <stackone/error.hpp>

#include <string>

namespace stackone {

namespace detail {

class stackone_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "stackone"; }

    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev))
        {
        case errc::invalid_candidate_id:
            return "invalid candidate id (empty, \".\" or \"..\"); nothing was sent";
        case errc::invalid_header_value:
            return "header value contains CR, LF or NUL; nothing was sent";
        case errc::missing_account_id:
            return "no account id (x-account-id); nothing was sent";
        case errc::missing_api_key:
            return "no API key; nothing was sent";
        case errc::invalid_base_url:
            return "base URL must be an absolute http:// or https:// URL without user info, "
                   "query or fragment";
        case errc::non_finite_number:
            return "note holds an infinite or NaN number, which JSON cannot express; nothing was "
                   "sent";
        case errc::resolve_failed:
            return "host name did not resolve; nothing was sent";
        case errc::connect_failed:
            return "could not connect; nothing was sent";
        case errc::connect_timeout:
            return "connect timed out; nothing was sent";
        case errc::tls_handshake_failed:
            return "TLS handshake failed; nothing was sent";
        case errc::tls_handshake_timeout:
            return "TLS handshake timed out; nothing was sent";
        case errc::connection_closed:
            return "connection closed before a complete response; the request may have been "
                   "processed";
        case errc::attempt_timeout:
            return "attempt timed out; the request may have been processed";
        case errc::heartbeat_timeout:
            return "no byte received within the heartbeat gap; the request may have been "
                   "processed";
        case errc::deadline_exceeded:
            return "overall deadline exceeded";
        case errc::malformed_response:
            return "malformed response";
        case errc::empty_body:
            return "response body held only whitespace";
        case errc::header_too_large:
            return "response header exceeds the limit";
        case errc::body_too_large:
            return "response body exceeds the limit";
        case errc::too_many_heartbeats:
            return "more heartbeat bytes than the limit";
        case errc::heartbeat_time_exceeded:
            return "heartbeats went on longer than the limit";
        case errc::truncated:
            return "response body truncated";
        case errc::retry_after_too_long:
            return "server asked to retry later than max_retry_after";
        case errc::retry_budget_exhausted:
            return "client retry budget exhausted";
        case errc::cancelled:
            return "operation cancelled";
        case errc::shutting_down:
            return "client is shutting down";
        case errc::internal_error:
            return "internal error";
        }
        return "unknown stackone error " + std::to_string(ev);
    }
};

class http_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "http"; }

    std::string message(int status) const override
    {
        const char* reason = "HTTP error";
        switch (status)
        {
        case 300:
        case 301:
        case 302:
        case 303:
        case 307:
        case 308:
            reason = "redirect (not followed)";
            break;
        case 400:
            reason = "Bad Request";
            break;
        case 401:
            reason = "Unauthorized (bad API key)";
            break;
        case 403:
            reason = "Forbidden (missing scope or blocked)";
            break;
        case 404:
            reason = "Not Found (unknown candidate)";
            break;
        case 408:
            reason = "Request Timeout (the request may have been processed)";
            break;
        case 409:
            reason = "Conflict (already exists)";
            break;
        case 412:
            reason = "Precondition Failed (linked account disabled)";
            break;
        case 422:
            reason = "Unprocessable Entity (provider rejected the payload)";
            break;
        case 429:
            reason = "Too Many Requests";
            break;
        case 500:
            reason = "Internal Server Error";
            break;
        case 501:
            reason = "Not Implemented (not supported by this provider)";
            break;
        case 502:
            reason = "Bad Gateway (provider error)";
            break;
        case 503:
            reason = "Service Unavailable";
            break;
        case 504:
            reason = "Gateway Timeout";
            break;
        default:
            if (status >= 200 && status < 300)
                reason = "unexpected success status";
            break;
        }
        return "HTTP " + std::to_string(status) + " " + reason;
    }
};

} // namespace detail

STACKONE_DECL const boost::system::error_category& stackone_category() noexcept
{
    static const detail::stackone_category_impl instance;
    return instance;
}

STACKONE_DECL const boost::system::error_category& http_category() noexcept
{
    static const detail::http_category_impl instance;
    return instance;
}

STACKONE_DECL std::string error::describe(const error_code& ec, const diagnostics& diag)
{
    // The message is built from the code and the server's words only; no request header is
    // ever part of diagnostics, so no secret can reach what().
    // system_error appends ": <ec.message()>" to this prefix.
    (void)ec;
    std::string text = "create candidate note";
    if (!diag.message.empty())
        text += ": " + diag.message;
    if (!diag.detail.empty())
        text += " (" + diag.detail + ")";
    return text;
}

} // namespace stackone

#endif
