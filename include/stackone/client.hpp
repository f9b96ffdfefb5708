//
// stackone::client: creates candidate notes.
//
#ifndef STACKONE_CLIENT_HPP
#define STACKONE_CLIENT_HPP

#include <stackone/config.hpp>
#include <stackone/create_result.hpp>
#include <stackone/error.hpp>
#include <stackone/note.hpp>
#include <stackone/options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/execution_context.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace stackone {

/// Counters of a client's connection pool (monotonic unless said otherwise).
struct pool_stats
{
    std::uint64_t connections_opened = 0;     ///< TCP connections established
    std::uint64_t connections_reused = 0;     ///< requests sent on an already used connection
    std::uint64_t retired_closed_by_peer = 0; ///< found closed by the peer while idle
    std::uint64_t retired_idle = 0;           ///< idle longer than pool_options::idle_timeout
    std::uint64_t retired_lifetime = 0;       ///< older than pool_options::max_lifetime
    std::uint64_t retired_not_reusable = 0;   ///< `Connection: close`, errors, incomplete responses
    std::uint64_t full_handshakes = 0;        ///< TLS handshakes without session resumption
    std::uint64_t resumed_handshakes = 0;     ///< TLS handshakes that resumed a session
    std::uint64_t open = 0;                   ///< connections open now
    std::uint64_t idle = 0;                   ///< of which idle now
    std::uint64_t waiters = 0;                ///< callers waiting for a connection now
    std::uint64_t retries = 0;                ///< attempts beyond the first, all calls
    std::uint64_t rate_limit_waits = 0;       ///< first attempts held back by another call's 429
    std::uint64_t paced_waits = 0;            ///< attempts held back by requests_per_minute
    std::uint64_t budget_exhausted = 0;       ///< retries refused by the retry budget
};

namespace detail {
using create_handler = boost::asio::any_completion_handler<void(error_code, create_result)>;

class client_impl;

struct call_state;

// A call validated and encoded up front (prepare_call), owned by its state in the client.
// Moving the handle moves one pointer. A copy is a call of its own with the same request: a
// deferred operation launched twice makes two calls, as it would with the arguments held by
// value.
class call_handle
{
public:
    explicit call_handle(std::shared_ptr<call_state> state) noexcept : state_(std::move(state)) {}
    call_handle(call_handle&&) noexcept = default;
    call_handle& operator=(call_handle&&) noexcept = default;
    call_handle(const call_handle& other) : state_(copy_of(other)) {}
    call_handle& operator=(const call_handle& other)
    {
        state_ = copy_of(other);
        return *this;
    }
    ~call_handle() = default;

    std::shared_ptr<call_state> release() && noexcept { return std::move(state_); }

private:
    STACKONE_DECL static std::shared_ptr<call_state> copy_of(const call_handle& other);

    std::shared_ptr<call_state> state_;
};

STACKONE_DECL call_handle prepare_call(const client_impl& impl,
                                       std::string_view candidate_id,
                                       const note& n,
                                       const call_options& opts);

STACKONE_DECL void
start_call(std::shared_ptr<client_impl> impl, call_handle call, create_handler handler);

using shutdown_handler = boost::asio::any_completion_handler<void(error_code)>;

STACKONE_DECL void start_shutdown(std::shared_ptr<client_impl> impl,
                                  std::chrono::milliseconds grace,
                                  shutdown_handler handler);
} // namespace detail

/**
 * @brief A client of StackOne's "Create Candidate Note" call.
 *
 * Holds the options, a pool of keep-alive connections to the base URL's origin, and the TLS
 * context. Calls may run concurrently; with `client_options::thread_safe` (the default) all of
 * a client's I/O runs on one internal strand of the executor it was built with.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: with `thread_safe` the asynchronous functions may be
 * called from any thread and the strand serializes the work; without it, the client must be
 * used from one thread only.
 *
 * @par Example
 * @code
 * stackone::client c(io.get_executor(), {.api_key = key, .account_id = "acc-1"});
 * auto res = co_await c.create_candidate_note("cand-1", stackone::note::from_text("Hi"));
 * @endcode
 */
class client
{
public:
    using executor_type = boost::asio::any_io_executor;

    /**
     * @brief Builds a client.
     * @throws stackone::error with errc::invalid_base_url, or std::system_error when the TLS
     * context cannot load `tls.ca_file`.
     */
    STACKONE_DECL client(executor_type ex, client_options opts);

    /// Builds a client on the executor of @p ctx (an io_context, for instance).
    template <class ExecutionContext>
    requires std::convertible_to<ExecutionContext&, boost::asio::execution_context&>
    client(ExecutionContext& ctx, client_options opts)
        : client(executor_type(ctx.get_executor()), std::move(opts))
    {}

    client(client&&) noexcept = default;
    client& operator=(client&&) noexcept = default;
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Closes idle connections; calls still running complete with errc::shutting_down.
    STACKONE_DECL ~client();

    /// The executor the client was built with.
    STACKONE_DECL executor_type get_executor() const noexcept;

    /**
     * @brief Creates a note on a candidate: `POST /unified/ats/candidates/{id}/notes`.
     *
     * The arguments are validated and the request is encoded before this function returns, so
     * views and temporaries passed in need not outlive it. Invalid arguments complete with an
     * errc (e.g. errc::invalid_candidate_id) and nothing is sent; so does a note whose
     * `passthrough` or `visibility.source_value` holds an infinite or NaN double
     * (errc::non_finite_number, `diag.detail` the JSON Pointer of the first one).
     *
     * Completion signature `void(error_code, create_result)`. On an HTTP error the code is in
     * http_category() (value = status) and `create_result::diag` carries the server's message
     * and `provider_errors`.
     *
     * @par Per-operation cancellation
     * Terminal cancellation is supported: the call ends with errc::cancelled at once, also
     * during a backoff sleep; `diag.may_have_been_processed` says whether the request may have
     * reached the server.
     *
     * @param token Any Asio completion token; default `deferred`.
     */
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_create_candidate_note(std::string_view candidate_id,
                                     const note& n,
                                     const call_options& opts = {},
                                     CompletionToken&& token = CompletionToken())
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, create_result)>(
            [](auto handler, std::shared_ptr<detail::client_impl> impl, detail::call_handle c) {
                detail::start_call(std::move(impl), std::move(c), std::move(handler));
            },
            token,
            impl_,
            detail::prepare_call(*impl_, candidate_id, n, opts));
    }

    /**
     * @brief The coroutine form: returns the result or throws stackone::error.
     *
     * @throws stackone::error carrying the error_code and diagnostics.
     * @par Per-operation cancellation
     * As async_create_candidate_note, through the awaiting coroutine's cancellation state.
     */
    STACKONE_DECL boost::asio::awaitable<create_result>
    create_candidate_note(std::string candidate_id, note n, call_options opts);

    /// As above with default call options. (A separate overload, not a default argument:
    /// g++ 12 destroys a coroutine's defaulted by-value argument twice.)
    boost::asio::awaitable<create_result> create_candidate_note(std::string candidate_id, note n)
    {
        return create_candidate_note(std::move(candidate_id), std::move(n), call_options{});
    }

    /**
     * @brief Shuts the client down gracefully.
     *
     * New calls fail with errc::shutting_down at once. Idle TLS connections send close_notify
     * and all idle connections are closed. Calls in flight may finish for @p grace; then they
     * are cancelled (ending with errc::cancelled, and `may_have_been_processed` set when their
     * request was written). Completes with `void(error_code)` when no call is left.
     *
     * @param token Any Asio completion token; default `deferred`.
     */
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_shutdown(std::chrono::milliseconds grace,
                        CompletionToken&& token = CompletionToken())
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [](auto handler,
               std::shared_ptr<detail::client_impl> impl,
               std::chrono::milliseconds g) {
                detail::start_shutdown(std::move(impl), g, std::move(handler));
            },
            token,
            impl_,
            grace);
    }

    /// A snapshot of the pool counters.
    STACKONE_DECL pool_stats stats() const;

    /// The options the client was built with.
    STACKONE_DECL const client_options& options() const noexcept;

private:
    std::shared_ptr<detail::client_impl> impl_;
};

} // namespace stackone

#ifdef STACKONE_HEADER_ONLY
#include <stackone/impl/client.ipp>
#endif

#endif
