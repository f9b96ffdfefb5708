//
// Plain option structs for the client and for one call. Zero durations mean "off".
//
#ifndef STACKONE_OPTIONS_HPP
#define STACKONE_OPTIONS_HPP

#include <stackone/log.hpp>
#include <stackone/observer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace stackone {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// TLS settings for https:// base URLs. TLS 1.2 is the minimum.
struct tls_options
{
    /// PEM file of extra trusted CAs. Empty: only the system trust store.
    std::string ca_file;

    /// Trust the system's default CA store too (default true).
    bool use_system_trust = true;

    /// Skips peer and host-name verification. Only for local experiments; the CLI prints a
    /// warning when it is set. Never the default.
    bool insecure_skip_verify = false;
};

/// The per-origin connection pool.
struct pool_options
{
    /// Most connections open at once; callers beyond wait in FIFO order. Range 1..10000.
    std::size_t max_connections = 16;

    /// An idle connection older than this is closed instead of reused. 0 = never.
    milliseconds idle_timeout = seconds(30);

    /// A connection older than this is retired after its current request. 0 = never.
    milliseconds max_lifetime = std::chrono::minutes(10);

    /// Timeout of the TCP connect (all resolved addresses together).
    milliseconds connect_timeout = seconds(10);

    /// Timeout of the TLS handshake.
    milliseconds handshake_timeout = seconds(10);

    /// While no TLS session exists to resume, only one new connection does a full handshake;
    /// the others opened meanwhile wait (at most `handshake_timeout`, or `connect_timeout`
    /// when that is 0) for its session and resume it. A cold pool then costs one full handshake,
    /// not one per connection. The wait ends early when that connection fails, when about one
    /// handshake time has passed after its handshake without a session (TLS 1.3 sends it just
    /// after), or when it completes a request without one; from then on connections no longer wait.
    bool share_first_session = true;
};

/// Retries of 408/429 and of failures that cannot have reached the server.
struct retry_options
{
    /// Attempts in total, the first included. 1 = no retries. Range 1..100.
    int max_attempts = 3;

    /// First backoff; each retry multiplies it by `multiplier`, up to `max_backoff`.
    milliseconds initial_backoff = seconds(1);

    /// Largest backoff.
    milliseconds max_backoff = seconds(30);

    /// Growth of the backoff per retry (>= 1).
    double multiplier = 2.0;

    /// A `Retry-After` above this ends the call with errc::retry_after_too_long instead of
    /// sleeping. 0 = any value is waited out (still bounded by the deadline).
    seconds max_retry_after = seconds(120);

    /// Wait after a 408/429 whose headers could not carry `Retry-After` (heartbeat responses).
    seconds default_retry_after = seconds(60);

    /// Statuses that are retried.
    std::vector<int> retry_statuses{408, 429};

    /// Time limit of one attempt, from connect to the last byte; each attempt has its own.
    /// 0 = none (the heartbeat gap and the overall deadline still apply).
    milliseconds attempt_timeout = seconds(90);

    /// Replay a 408 (the default, as the official SDKs do; the result then says
    /// `possible_duplicate`). false = at-most-once: a 408 ends the call, the note may exist.
    bool replay_408 = true;

    /// Source of jitter: returns a number in [0, 1). Empty = a per-client PRNG. A backoff
    /// delay is between half and all of its backoff; a server's `Retry-After` gets up to half a
    /// backoff added, so clients told the same thing do not come back at once.
    std::function<double()> random;
};

/**
 * @brief A client-wide budget of retries, so an outage does not become a retry storm.
 *
 * Each retry spends `retry_cost` tokens, each success gives back `success_refund`, up to
 * `capacity`. When a retry cannot be paid for, the call fails at once with
 * errc::retry_budget_exhausted. With the defaults, retries can burst to 100 and then keep up
 * with one retry per five successes.
 */
struct retry_budget_options
{
    /// Tokens when full (and at start). 0 = no budget (unbounded retries, still per call
    /// bounded by max_attempts).
    std::size_t capacity = 500;

    /// Tokens a retry costs.
    std::size_t retry_cost = 5;

    /// Tokens a success gives back.
    std::size_t success_refund = 1;
};

/// Explicit limits on what the server may send.
struct limit_options
{
    /// Bytes of the response head (status line and headers).
    std::size_t header_bytes = 16 * 1024;

    /// Bytes of the JSON body, heartbeat whitespace not counted.
    std::size_t body_bytes = 1024 * 1024;

    /// Heartbeat (leading whitespace) bytes before the JSON starts.
    std::size_t heartbeat_bytes = 64 * 1024;

    /// Time from the first heartbeat byte to the first JSON byte. 0 = unbounded.
    milliseconds heartbeat_time = std::chrono::minutes(10);
};

/// Everything a client is built from.
struct client_options
{
    /// Absolute http:// or https:// URL; a path prefix is allowed (e.g. a proxy's).
    std::string base_url = "https://api.stackone.com";

    /// The StackOne API key, sent as Basic auth user name. Never logged.
    std::string api_key;

    /// Default linked account (`x-account-id`) for calls that do not name one.
    std::string account_id;

    /// `User-Agent`; empty = "stackone-notes-cpp/<version>".
    std::string user_agent;

    /// Send `Prefer: heartbeat` on every call (overridable per call).
    bool heartbeat = false;

    /// Longest silence between received bytes of the response while waiting for it (TLS
    /// records that carry none do not count). 0 = off.
    milliseconds heartbeat_gap = seconds(30);

    /// Default overall deadline of a call, retries and waits included. 0 = none.
    milliseconds deadline = milliseconds(0);

    /// Client-side pacing: attempts per minute for this client (its API key). 0 = off.
    /// StackOne documents 1000 requests per minute per key.
    double requests_per_minute = 0;

    /// A 429 with a readable `Retry-After` holds the first attempts of new calls for the same
    /// account (`x-account-id`) until it has passed, instead of each call meeting the limit on
    /// its own. Turn off when 429s are not about load (e.g. a provider limiting one record).
    bool pause_account_on_429 = true;

    /// Run the client's I/O on an internal strand, so that it may be used from the threads of a
    /// multi-threaded executor. false: every use of the client must happen on one thread (an
    /// io_context run by one thread), which saves a strand hop per operation.
    bool thread_safe = true;

    pool_options pool;
    retry_options retry;
    retry_budget_options retry_budget;
    tls_options tls;
    limit_options limits;
    logger log;

    /// Called once per attempt of every call, with what it did (see attempt_event). Empty = no
    /// events; nothing is measured for them then.
    attempt_observer on_attempt;
};

/// Options of one call; unset members take the client's value.
struct call_options
{
    /// `x-account-id`; empty = the client's account_id.
    std::string account_id;

    /// Send `Prefer: heartbeat`.
    std::optional<bool> heartbeat;

    /// Overall deadline of this call, retries included (0 = none).
    std::optional<milliseconds> deadline;

    /// Replaces the client's retry options for this call.
    std::optional<retry_options> retry;
};

} // namespace stackone

#endif
