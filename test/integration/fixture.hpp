// Shared setup of the integration tests: a mock server, an io_context and a client factory.
#ifndef STACKONE_TEST_INTEGRATION_FIXTURE_HPP
#define STACKONE_TEST_INTEGRATION_FIXTURE_HPP

#include <stackone/client.hpp>
#include <stackone/import.hpp>

#include <mock_server.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace stackone::test {

inline constexpr const char* test_key = "sk_test_made_up_key_123";

// Where the build put the throw-away certificates (test/meson.build sets it).
inline std::string cert_path(const std::string& name)
{
    const char* dir = std::getenv("STACKONE_TEST_CERTS");
    BOOST_TEST_REQUIRE(dir != nullptr, "STACKONE_TEST_CERTS is not set; run through meson test");
    return std::string(dir) + "/" + name;
}

struct mock_setup
{
    bool tls = false;
    bool tls_sessions = true; // the server gives sessions to resume
    std::string cert = "server.pem";
    std::string key = "server.key";
    const char* scenario = nullptr;
    std::chrono::milliseconds idle_close{0}; // the server closes connections idle this long
    std::size_t rate_limit = 0;              // requests per rate_window, then 429; 0 = none
    std::chrono::milliseconds rate_window{1000};
    std::size_t max_body_bytes = 1024 * 1024;
    int receive_buffer_bytes = 0; // SO_RCVBUF of the server's connections; 0 = the default
};

inline mock::server_options mock_options(const mock_setup& s)
{
    mock::server_options o;
    o.api_key = test_key;
    o.tls = s.tls;
    o.tls_sessions = s.tls_sessions;
    if (s.tls)
    {
        o.cert_file = cert_path(s.cert);
        o.key_file = cert_path(s.key);
    }
    if (s.scenario)
        o.scenario = boost::json::parse(s.scenario);
    o.idle_close_ms = s.idle_close;
    o.rate_limit_requests = s.rate_limit;
    o.rate_limit_window = s.rate_window;
    o.max_body_bytes = s.max_body_bytes;
    o.receive_buffer_bytes = s.receive_buffer_bytes;
    return o;
}

// Options of a client for @p base_url that trusts the test CA only, with the test key.
inline client_options trusting_client_opts(std::string base_url)
{
    client_options o;
    o.base_url = std::move(base_url);
    o.api_key = test_key;
    o.account_id = "acc-test-1";
    o.tls.use_system_trust = false;
    o.tls.ca_file = cert_path("ca.pem");
    return o;
}

// A started mock server and the options of a client that trusts it.
struct mock_fixture
{
    explicit mock_fixture(mock_setup s = {}) : server(mock_options(s)) { server.start(); }

    client_options client_opts() const
    {
        client_options o = trusting_client_opts(server.base_url());
        o.retry.initial_backoff = std::chrono::milliseconds(50);
        o.retry.max_backoff = std::chrono::milliseconds(200);
        return o;
    }

    mock::server server;
};

// Runs @p make() as a coroutine on a fresh io_context and returns its value; rethrows.
template <class T, class F>
T run_coroutine(boost::asio::io_context& io, F make)
{
    std::optional<T> value;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, make(), [&](std::exception_ptr e, T v) {
        failure = e;
        if (!e)
            value = std::move(v);
    });
    io.run();
    io.restart();
    if (failure)
        std::rethrow_exception(failure);
    return std::move(*value);
}

// The outcome of one call: its code, its result and how long it took.
struct call_outcome
{
    error_code ec;
    create_result result;
    std::chrono::steady_clock::duration took{};
};

// Creates one note and runs @p io until the call has completed.
inline call_outcome create(boost::asio::io_context& io,
                           client& c,
                           std::string_view candidate_id,
                           const note& n = note::from_text("Strong phone screen."),
                           const call_options& opts = {})
{
    call_outcome out;
    bool done = false;
    const auto started = std::chrono::steady_clock::now();
    c.async_create_candidate_note(candidate_id, n, opts, [&](error_code ec, create_result r) {
        out = call_outcome{ec, std::move(r), std::chrono::steady_clock::now() - started};
        done = true;
    });
    io.run();
    io.restart();
    BOOST_TEST_REQUIRE(done);
    return out;
}

// Runs an import on @p io and cancels it (terminal cancellation) once @p server has seen
// @p requests requests; returns its summary (empty when it ended with an exception).
inline std::optional<import_summary> import_cancelled_after(boost::asio::io_context& io,
                                                            client& c,
                                                            std::istream& in,
                                                            std::ostream& out,
                                                            const import_options& opts,
                                                            const mock::server& server,
                                                            std::uint64_t requests)
{
    namespace asio = boost::asio;
    asio::cancellation_signal stop;
    std::optional<import_summary> summary;
    asio::co_spawn(
        io,
        run_import(c, in, out, opts),
        asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, import_summary s) {
            BOOST_TEST(!e);
            summary = s;
        }));
    asio::steady_timer poll(io);
    std::function<void()> wait_for_requests = [&] {
        if (server.get_stats().requests >= requests)
        {
            stop.emit(asio::cancellation_type::terminal);
            return;
        }
        poll.expires_after(std::chrono::milliseconds(5));
        poll.async_wait([&](error_code) { wait_for_requests(); });
    };
    wait_for_requests();
    io.run();
    return summary;
}

} // namespace stackone::test

#endif
