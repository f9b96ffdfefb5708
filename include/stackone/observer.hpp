//
// A per-attempt observer: one event per attempt of a call, for metrics exporters.
//
#ifndef STACKONE_OBSERVER_HPP
#define STACKONE_OBSERVER_HPP

#include <stackone/error.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

namespace stackone {

/**
 * @brief What one attempt of a create call did.
 *
 * Passed to client_options::on_attempt once per attempt, after the client has decided whether
 * to retry, so `retry_delay` is the wait before the next attempt. An attempt that was never
 * started (the call was cancelled or its deadline passed while it waited) is not reported.
 *
 * The views are valid only during the observer's call; copy what you keep.
 */
struct attempt_event
{
    /// The candidate id of the call (decoded, not the encoded path segment).
    std::string_view candidate_id;

    /// The linked account (`x-account-id`) the call was sent for.
    std::string_view account_id;

    /// 1 for the first attempt of a call, 2 for its first retry, ...
    int attempt = 0;

    /// The attempt's outcome: empty for success; an HTTP status in http_category(); or an errc.
    error_code ec;

    /// The status that decided the attempt (the body's `statusCode` after heartbeats, else the
    /// status line); 0 when no response head arrived.
    int status = 0;

    /// From the attempt's start (waiting for a pooled connection included) to its end.
    std::chrono::steady_clock::duration latency{};

    /// Time the attempt waited before it started: a backoff, another call's 429 pause or the
    /// pacer.
    std::chrono::steady_clock::duration waited{};

    /// True when another attempt follows, after `retry_delay`.
    bool will_retry = false;

    /// The delay before the next attempt (backoff or `Retry-After`, jitter included); zero
    /// when none follows.
    std::chrono::milliseconds retry_delay{0};

    /// Heartbeat bytes received before the JSON body.
    std::size_t heartbeat_bytes = 0;

    /// The server answered `Preference-Applied: heartbeat`.
    bool heartbeat_applied = false;

    /// The request went out on a connection already used by an earlier request.
    bool connection_reused = false;

    /// At least one byte of the request was written: the server may have acted on it.
    bool request_sent = false;
};

/**
 * @brief Receives an attempt_event per attempt.
 *
 * Called on the client's executor (its strand when client_options::thread_safe), so it must
 * be quick and must not block; an exporter typically bumps counters and a histogram. It must
 * not throw: an exception is caught, logged once at level warn, and ignored.
 */
using attempt_observer = std::function<void(const attempt_event&)>;

} // namespace stackone

#endif
