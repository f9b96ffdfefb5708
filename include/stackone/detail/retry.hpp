//
// Sans-I/O retry decision: given what an attempt ended with, retry (after how long) or stop.
//
#ifndef STACKONE_DETAIL_RETRY_HPP
#define STACKONE_DETAIL_RETRY_HPP

#include <stackone/error.hpp>
#include <stackone/options.hpp>
#include <stackone/retry_after.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <string_view>

namespace stackone::detail {

// What one attempt ended with, as far as the retry decision cares.
struct attempt_outcome
{
    error_code ec; // errc, HTTP status or success
    bool may_have_been_processed = false;
    std::string_view retry_after;     // header value as received; empty when absent
    bool headers_fixed_early = false; // heartbeat response: Retry-After could not be sent
};

struct retry_decision
{
    bool retry = false;
    std::chrono::milliseconds delay{0};
    error_code final_ec; // when not retrying: the error the call ends with
    std::string reason;  // for the log: why this decision
};

// True for the transport failures that happen before any request byte is written.
inline bool failed_before_sending(const error_code& ec) noexcept
{
    return ec == errc::resolve_failed || ec == errc::connect_failed ||
           ec == errc::connect_timeout || ec == errc::tls_handshake_timeout;
}

// The capped exponential backoff before retry number @p retry_index (0 = first retry), without
// jitter.
inline std::chrono::milliseconds backoff_for(const retry_options& opts, int retry_index) noexcept
{
    const double factor = std::pow(std::max(1.0, opts.multiplier), retry_index);
    const double ms = static_cast<double>(opts.initial_backoff.count()) * factor;
    const double cap = static_cast<double>(opts.max_backoff.count());
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, cap)));
}

/**
 * Decides after attempt number @p attempt (1-based) ended with @p outcome.
 * @p random is in [0, 1); @p deadline is the call's overall deadline (time_point::max() if none).
 */
inline retry_decision decide_retry(const retry_options& opts,
                                   int attempt,
                                   const attempt_outcome& outcome,
                                   double random,
                                   std::chrono::steady_clock::time_point now,
                                   std::chrono::steady_clock::time_point deadline,
                                   std::chrono::system_clock::time_point wall_now) noexcept
{
    using std::chrono::milliseconds;
    retry_decision d;
    d.final_ec = outcome.ec;

    const bool is_status = is_http_error(outcome.ec);
    const bool retryable_status =
        is_status &&
        std::find(opts.retry_statuses.begin(), opts.retry_statuses.end(), outcome.ec.value()) !=
            opts.retry_statuses.end();
    if (retryable_status && outcome.ec.value() == 408 && !opts.replay_408)
    {
        d.reason = "408 not replayed (at-most-once)";
        return d;
    }
    const bool retryable_transport =
        !is_status && !outcome.may_have_been_processed && failed_before_sending(outcome.ec);
    if (!retryable_status && !retryable_transport)
    {
        d.reason = "not retryable";
        return d;
    }
    if (attempt >= opts.max_attempts)
    {
        d.reason = "no attempts left";
        return d;
    }

    // Jitter keeps each delay between half and all of its backoff, so a crowd of clients told
    // the same thing does not come back in one burst.
    const milliseconds backoff = backoff_for(opts, attempt - 1);
    const double unit = std::clamp(random, 0.0, 1.0);
    const milliseconds jittered(
        static_cast<std::int64_t>(static_cast<double>(backoff.count()) * (0.5 + 0.5 * unit)));
    d.delay = jittered;
    d.reason = "backoff";

    if (retryable_status)
    {
        // The server's word comes first; it is never shortened below half the backoff, so a
        // "Retry-After: 0" cannot turn retries into a tight loop.
        auto server_delay = parse_retry_after(outcome.retry_after, wall_now);
        if (!outcome.retry_after.empty() && server_delay)
        {
            if (opts.max_retry_after.count() > 0 && *server_delay > opts.max_retry_after)
            {
                d.final_ec = errc::retry_after_too_long;
                d.reason = "Retry-After over max_retry_after";
                return d;
            }
            // Never sooner than the server said, nor than half the backoff; spread over half a
            // backoff more so that many clients told the same do not return in one burst.
            const milliseconds spread(
                static_cast<std::int64_t>(static_cast<double>(backoff.count()) * 0.5 * unit));
            d.delay = std::max<milliseconds>(*server_delay, backoff / 2) + spread;
            d.reason = "Retry-After";
        }
        else if (outcome.retry_after.empty() && outcome.headers_fixed_early)
        {
            d.delay = std::max<milliseconds>(opts.default_retry_after, backoff / 2);
            d.reason = "default Retry-After (headers were sent before the outcome)";
        }
        else if (!outcome.retry_after.empty())
        {
            d.reason = "unreadable Retry-After, backoff";
        }
    }

    // A sleep never runs past the deadline: if the next attempt cannot start in time, stop now.
    if (deadline != std::chrono::steady_clock::time_point::max() && now + d.delay >= deadline)
    {
        d.final_ec = errc::deadline_exceeded;
        d.reason = "next attempt would start after the deadline";
        return d;
    }

    d.retry = true;
    return d;
}

/*
 * The client-wide retry budget (see retry_budget_options): retries draw tokens, successes
 * refill them. Not thread-safe: used on the client's strand.
 */
class retry_budget
{
public:
    explicit retry_budget(const retry_budget_options& opts) noexcept
        : opts_(opts), tokens_(opts.capacity)
    {}

    // Pays for one retry; false when the budget cannot.
    bool try_spend() noexcept
    {
        if (opts_.capacity == 0)
            return true;
        if (tokens_ < opts_.retry_cost)
            return false;
        tokens_ -= opts_.retry_cost;
        return true;
    }

    void on_success() noexcept
    {
        tokens_ = std::min(opts_.capacity, tokens_ + opts_.success_refund);
    }

    std::size_t tokens() const noexcept { return tokens_; }

private:
    retry_budget_options opts_;
    std::size_t tokens_;
};

/*
 * Client-side pacing: attempts are spaced 60 s / rate apart, so a bulk import stays under the
 * documented per-key limit instead of provoking 429s. Not thread-safe: used on the strand.
 */
class pacer
{
public:
    explicit pacer(double per_minute) noexcept
        : interval_(per_minute > 0
                        ? std::chrono::nanoseconds(static_cast<std::int64_t>(60e9 / per_minute))
                        : std::chrono::nanoseconds(0))
    {}

    bool enabled() const noexcept { return interval_.count() > 0; }

    // Reserves the next slot at or after @p earliest and returns when it starts.
    std::chrono::steady_clock::time_point reserve(std::chrono::steady_clock::time_point earliest)
    {
        const auto slot = std::max(next_, earliest);
        next_ = slot + interval_;
        return slot;
    }

private:
    std::chrono::nanoseconds interval_;
    std::chrono::steady_clock::time_point next_{};
};

} // namespace stackone::detail

#endif
