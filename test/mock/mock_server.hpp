//
// Copyright (c) 2026 The stackone-notes-cpp authors
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#ifndef STACKONE_TEST_MOCK_MOCK_SERVER_HPP
#define STACKONE_TEST_MOCK_MOCK_SERVER_HPP

/// @file
/// A mock of StackOne's "Create Candidate Note" endpoint
/// (`POST /unified/ats/candidates/{id}/notes`) for integration tests and benchmarks.
///
/// This header is deliberately thin: all Asio, Beast and OpenSSL machinery lives in
/// `mock_server.cpp`, so a test that includes it compiles in seconds.

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stackone::mock {

/// What the mock server listens on and how it answers.
struct server_options
{
    /// Address to listen on. Only loopback addresses are accepted (`127.0.0.0/8`, `::1`,
    /// or `localhost`, which means `127.0.0.1`): the mock has no business on a network.
    std::string host = "127.0.0.1";

    /// TCP port; 0 asks the kernel for a free one (read it back with server::port()).
    unsigned short port = 0;

    /// Serve HTTPS (TLS 1.2 or newer) instead of plain HTTP.
    bool tls = false;

    /// With `tls`: give clients sessions to resume (TLS 1.3 tickets, TLS 1.2 tickets and IDs).
    /// Off, every handshake is a full one, like a server that keeps no sessions.
    bool tls_sessions = true;

    /// PEM certificate chain, leaf first. Required when `tls` is set.
    std::string cert_file;

    /// PEM private key matching `cert_file`. Required when `tls` is set.
    std::string key_file;

    /// The API key that requests must carry as `Authorization: Basic base64("<api_key>:")`.
    /// Never printed. Must be non-empty and free of control characters.
    std::string api_key = "sk_test_mock";

    /// JSONL file that every created note is appended to (one line per note, written and
    /// flushed before the response). Empty: no file.
    std::string ledger_path;

    /// Keep every created note in memory so that server::ledger() can return it.
    /// Turn off for long benchmarks, where the in-memory ledger would grow without bound.
    bool ledger_in_memory = true;

    /// Scripted answers (see the README next to this header); null means none.
    boost::json::value scenario;

    /// Number of threads running the server's `io_context`, 1 to 256.
    unsigned threads = 1;

    /// Close a connection that has been waiting this long for its next request without
    /// receiving a byte of it (new connections included, once the TLS handshake is done).
    /// TLS connections are closed with `close_notify`. Zero: never. 0 to 3600000 ms.
    /// A request that has started to arrive is not timed.
    std::chrono::milliseconds idle_close_ms{0};

    /// When non-zero, every response carries `Keep-Alive: timeout=S`. It only announces: the
    /// server closes idle connections according to `idle_close_ms`, so a test can make the two
    /// disagree. 0 to 86400 s.
    std::chrono::seconds keep_alive_header_s{0};

    /// A fixed-window rate limit, like StackOne's per-key limit: at most `rate_limit_requests`
    /// valid note requests per `rate_limit_window`, counted from the first request of a window;
    /// the excess is answered `429` with `Retry-After` (the whole seconds left in the window,
    /// at least 1) and creates nothing. Checked before the scenario. 0 requests: no limit.
    std::size_t rate_limit_requests = 0;

    /// The window of `rate_limit_requests`, 1 to 3600000 ms.
    std::chrono::milliseconds rate_limit_window{std::chrono::seconds(60)};

    /// The largest request body taken; a larger one is answered `413`. 1 to 64 MiB.
    std::size_t max_body_bytes = 1024 * 1024;

    /// When non-zero, the accepted connections' kernel receive buffer (`SO_RCVBUF`, set on the
    /// listening socket; the kernel doubles it): a small one keeps the TCP window small, so a
    /// client's large request cannot be taken by its socket at once. 0: the system's default.
    int receive_buffer_bytes = 0;
};

/// Counters since the server was constructed. A snapshot; each field is read atomically.
struct stats
{
    /// TCP connections accepted, including those that only asked for `/_mock/stats`.
    std::uint64_t connections_accepted = 0;

    /// Connections currently open.
    std::uint64_t connections_open = 0;

    /// TLS handshakes that failed (for example a plain-HTTP client on the TLS port).
    std::uint64_t tls_handshakes_failed = 0;

    /// TLS handshakes whose ClientHello named the server (SNI).
    std::uint64_t tls_handshakes_with_sni = 0;

    /// TLS 1.3 key updates sent by `stall_key_updates_ms`.
    std::uint64_t tls_key_updates_sent = 0;

    /// HTTP requests received, except those to the `/_mock/` admin endpoints.
    std::uint64_t requests = 0;

    /// Notes created (one ledger entry each).
    std::uint64_t created = 0;

    /// Requests answered 4xx by the mock's own checks (routing, auth, headers, body schema,
    /// size limits, malformed HTTP), as opposed to 4xx scripted by a scenario.
    std::uint64_t rejected = 0;

    /// Requests handled by a scenario step (any status or action).
    std::uint64_t scripted = 0;

    /// Heartbeats written by scenario steps (`heartbeats.count` per answered step, fewer when a
    /// step stalls or closes first, or when the client has gone). Bytes mixed into the body's
    /// first chunk by `mix_heartbeats` are not counted.
    std::uint64_t heartbeats_sent = 0;

    /// Connections closed by the server because they were idle for `idle_close_ms`.
    std::uint64_t connections_closed_idle = 0;

    /// Requests answered 429 by `rate_limit_requests` (not by a scenario).
    std::uint64_t rate_limited = 0;
};

/// One created note, as recorded in the ledger.
struct ledger_entry
{
    std::string id;           ///< `data.id` returned to the client.
    std::string remote_id;    ///< `data.remote_id` returned to the client.
    std::string candidate_id; ///< The decoded `{id}` path segment.
    std::string account_id;   ///< The `x-account-id` header.
    boost::json::value note;  ///< The request body, as parsed.
};

/// Returns true when `host` is something server_options::host accepts: a loopback IPv4 or
/// IPv6 literal, or `localhost`.
[[nodiscard]] bool is_loopback_host(const std::string& host) noexcept;

/// An HTTP/1.1 (optionally TLS) server that mimics `POST /unified/ats/candidates/{id}/notes`.
///
/// Requests are validated against the OpenAPI contract (auth, `x-account-id`, `Content-Type`,
/// `AtsCreateNotesRequestDto`); valid ones are answered `201` and recorded in the ledger,
/// unless a scenario rule scripts another answer. `GET /_mock/stats` returns the counters.
///
/// @par Thread safety
/// get_stats(), ledger(), set_scenario(), port() and base_url() may be called from any thread
/// at any time. start() and stop() must not be called concurrently with each other, and
/// never from a thread that runs the server (stop() joins those threads).
class server
{
public:
    /// Validates the options, loads the TLS certificate and key, compiles the scenario and
    /// opens the ledger file.
    /// @throws std::runtime_error naming the bad option.
    explicit server(server_options opts);

    /// Stops the server (see stop()).
    ~server();

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds, listens and starts the worker threads. Returns once the socket is listening,
    /// so a client may connect as soon as it returns.
    /// @throws std::runtime_error if the address cannot be bound, or if the server was
    /// already started.
    void start();

    /// Closes the listening socket and every open connection, waits for the worker threads
    /// and returns. Idempotent. Every note answered `2xx` is in the ledger by then.
    void stop();

    /// The port actually bound (the configured one before start()).
    [[nodiscard]] unsigned short port() const;

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` (IPv6 hosts in brackets).
    [[nodiscard]] std::string base_url() const;

    /// A snapshot of the counters.
    [[nodiscard]] stats get_stats() const;

    /// A copy of the in-memory ledger, in creation order.
    [[nodiscard]] std::vector<ledger_entry> ledger() const;

    /// Replaces the scenario rules and resets their counters. Requests already being answered
    /// keep the step they picked.
    /// @throws std::runtime_error naming the offending scenario field; the previous scenario
    /// then stays in force.
    void set_scenario(boost::json::value scenario);

    /// Reads and parses a JSON scenario file.
    /// @throws std::runtime_error naming the file and, for a syntax error, the line and column.
    [[nodiscard]] static boost::json::value load_scenario_file(const std::string& path);

private:
    class impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stackone::mock

#endif // STACKONE_TEST_MOCK_MOCK_SERVER_HPP
