// The connection pool over real sockets: FIFO waiters, cancelling a waiter, retirement after
// `Connection: close` and after max_lifetime, TLS session resumption, idle closes by the
// server.
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

const char* const pool_scenario = R"({"rules": [
    {"candidate_id": "^slow-", "steps": [{"status": 201, "delay_ms": 200, "times": 0}]},
    {"candidate_id": "^bye-", "steps": [{"status": 201, "headers": {"Connection": "close"},
                                        "times": 0}]},
    {"candidate_id": "^rekey-", "steps": [{"status": 201, "key_update": true, "times": 0}]},
    {"candidate_id": "^gone-", "steps": [{"status": 201, "close_after_response": true,
                                         "times": 0}]},
    {"candidate_id": "^tidy-", "steps": [{"status": 201, "close_after_response": true,
                                         "close_notify": true, "times": 0}]}
]})";

// Waits until the server has closed every connection it had open (its sessions are gone).
void wait_for_server_closes(const mock::server& server)
{
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (server.get_stats().connections_open != 0 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::yield();
    BOOST_TEST_REQUIRE(server.get_stats().connections_open == 0u);
}

} // namespace

BOOST_AUTO_TEST_SUITE(pool)

BOOST_AUTO_TEST_CASE(waiters_are_served_in_fifo_order)
{
    mock_fixture f(mock_setup{.scenario = pool_scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_connections = 1;
    client c(io, opts);

    std::vector<int> order;
    for (int i = 0; i < 5; ++i)
    {
        c.async_create_candidate_note("slow-" + std::to_string(i),
                                      note::from_text("x"),
                                      {},
                                      [&, i](error_code ec, create_result) {
                                          BOOST_TEST(!ec);
                                          order.push_back(i);
                                      });
    }
    io.run();
    BOOST_TEST(order == (std::vector<int>{0, 1, 2, 3, 4}), boost::test_tools::per_element());
    BOOST_TEST(f.server.get_stats().connections_accepted == 1u);
}

BOOST_AUTO_TEST_CASE(a_cancelled_waiter_leaves_the_line_and_sends_nothing)
{
    mock_fixture f(mock_setup{.scenario = pool_scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_connections = 1;
    client c(io, opts);

    error_code first, waiter, third;
    create_result waiter_result;
    asio::cancellation_signal cancel_waiter;
    c.async_create_candidate_note(
        "slow-a", note::from_text("x"), {}, [&](error_code ec, create_result) { first = ec; });
    c.async_create_candidate_note(
        "slow-b",
        note::from_text("x"),
        {},
        asio::bind_cancellation_slot(cancel_waiter.slot(), [&](error_code ec, create_result r) {
            waiter = ec;
            waiter_result = std::move(r);
        }));
    c.async_create_candidate_note(
        "slow-c", note::from_text("x"), {}, [&](error_code ec, create_result) { third = ec; });

    // Cancel the second call while it waits for the pool's only connection.
    asio::steady_timer poll(io);
    std::function<void()> cancel_when_waiting = [&] {
        if (c.stats().waiters < 2)
        {
            poll.expires_after(1ms);
            poll.async_wait([&](error_code) { cancel_when_waiting(); });
            return;
        }
        cancel_waiter.emit(asio::cancellation_type::terminal);
    };
    cancel_when_waiting();
    io.run();

    BOOST_TEST(!first);
    BOOST_TEST(waiter == make_error_code(errc::cancelled));
    BOOST_TEST(!waiter_result.diag.may_have_been_processed);
    BOOST_TEST(!third);
    BOOST_TEST(f.server.get_stats().requests == 2u);
    BOOST_TEST(c.stats().waiters == 0u);
}

BOOST_AUTO_TEST_CASE(connection_close_retires_the_connection)
{
    mock_fixture f(mock_setup{.scenario = pool_scenario});
    asio::io_context io;
    client c(io, f.client_opts());
    BOOST_TEST(!create(io, c, "bye-1").ec);
    BOOST_TEST(!create(io, c, "bye-2").ec);
    BOOST_TEST(f.server.get_stats().connections_accepted == 2u);
    BOOST_TEST(c.stats().retired_not_reusable == 2u);
    BOOST_TEST(c.stats().connections_reused == 0u);
}

BOOST_AUTO_TEST_CASE(old_connections_are_retired_by_lifetime)
{
    mock_fixture f;
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_lifetime = 50ms;
    client c(io, opts);
    BOOST_TEST(!create(io, c, "c-1").ec);
    // Let the connection grow older than its lifetime.
    asio::steady_timer age(io, 100ms);
    age.wait();
    BOOST_TEST(!create(io, c, "c-2").ec);
    BOOST_TEST(c.stats().retired_lifetime == 1u);
    BOOST_TEST(c.stats().connections_opened == 2u);
}

BOOST_DATA_TEST_CASE(server_closing_idle_connections_is_noticed_before_reuse,
                     boost::unit_test::data::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls, .idle_close = std::chrono::milliseconds(1000)});
    auto& server = f.server;
    asio::io_context io;
    client c(io, f.client_opts());

    BOOST_TEST(!create(io, c, "c-1").ec);
    // The server closes the idle connection after 1 s; the next call comes at 2 s.
    asio::steady_timer later(io, std::chrono::seconds(2));
    later.wait();
    BOOST_TEST(!create(io, c, "c-2").ec);

    BOOST_TEST(server.get_stats().connections_closed_idle == 1u);
    BOOST_TEST(c.stats().retired_closed_by_peer == 1u);
    BOOST_TEST(c.stats().connections_opened == 2u);
    // Nothing was replayed: one request per call.
    BOOST_TEST(server.get_stats().requests == 2u);
    BOOST_TEST(server.ledger().size() == 2u);
}

BOOST_DATA_TEST_CASE(a_close_right_after_a_response_is_noticed_before_reuse,
                     boost::unit_test::data::make({"plain", "tls", "tls-close-notify"}),
                     kind)
{
    // The server closes the connection right after its answer, without `Connection: close`.
    // The next call must not be written on it (it would fail as "may have been processed"):
    // the check when the connection is taken sees the close, and a new one is opened.
    const std::string how = kind;
    mock_fixture f(mock_setup{.tls = how != "plain", .scenario = pool_scenario});
    asio::io_context io;
    client c(io, f.client_opts());

    const auto first = create(io, c, how == "tls-close-notify" ? "tidy-1" : "gone-1");
    BOOST_TEST(!first.ec, first.ec.message());
    wait_for_server_closes(f.server);
    const auto second = create(io, c, "c-2");
    BOOST_TEST(!second.ec, second.ec.message() << ": " << second.result.diag.detail);
    BOOST_TEST(second.result.diag.attempts == 1);

    // Retired either way: by the check before reuse, or at once when the close (a TLS
    // close_notify) came in the same read as the response.
    const auto stats = c.stats();
    BOOST_TEST(stats.retired_closed_by_peer + stats.retired_not_reusable == 1u);
    BOOST_TEST(stats.connections_opened == 2u);
    BOOST_TEST(f.server.get_stats().requests == 2u);
}

BOOST_AUTO_TEST_CASE(second_tls_connection_resumes_the_session)
{
    mock_fixture f(mock_setup{.tls = true});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_lifetime = 1ms; // every call on a new connection
    client c(io, opts);
    BOOST_TEST(!create(io, c, "c-1").ec);
    asio::steady_timer age(io, 5ms);
    age.wait();
    BOOST_TEST(!create(io, c, "c-2").ec);
    BOOST_TEST(c.stats().connections_opened == 2u);
    BOOST_TEST(c.stats().full_handshakes == 1u);
    BOOST_TEST(c.stats().resumed_handshakes == 1u);
}

namespace {

// Opens @p n connections at once (each call holds its own for 200 ms) on a cold pool.
pool_stats open_cold_pool(mock_fixture& f, std::size_t n, bool share_first_session)
{
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_connections = n;
    opts.pool.share_first_session = share_first_session;
    client c(io, opts);
    std::size_t ok = 0;
    for (std::size_t i = 0; i < n; ++i)
    {
        c.async_create_candidate_note("slow-" + std::to_string(i),
                                      note::from_text("x"),
                                      {},
                                      [&](error_code ec, create_result) { ok += !ec; });
    }
    io.run();
    BOOST_TEST(ok == n);
    return c.stats();
}

} // namespace

// TLS 1.3: the server updates its keys before each answer and asks for the client's. The
// client's key update must reach the server before its next request on the connection, or the
// server cannot read that request.
BOOST_AUTO_TEST_CASE(key_updates_from_the_server_keep_the_tls_connection_usable)
{
    mock_fixture f(mock_setup{.tls = true, .scenario = pool_scenario});
    asio::io_context io;
    client c(io, f.client_opts());
    for (int i = 0; i < 4; ++i)
    {
        const auto out = create(io, c, "rekey-" + std::to_string(i));
        BOOST_TEST(!out.ec, out.ec.message() << ": " << out.result.diag.detail);
        BOOST_TEST(out.result.id.has_value());
    }
    BOOST_TEST(c.stats().connections_opened == 1u);
    BOOST_TEST(c.stats().connections_reused == 3u);
    BOOST_TEST(f.server.get_stats().connections_accepted == 1u);
    BOOST_TEST(f.server.ledger().size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_cold_tls_pool_does_one_full_handshake)
{
    mock_fixture f(mock_setup{.tls = true, .scenario = pool_scenario});
    const auto s = open_cold_pool(f, 8, true);
    BOOST_TEST(s.connections_opened == 8u);
    BOOST_TEST(s.full_handshakes == 1u);
    BOOST_TEST(s.resumed_handshakes == 7u);
    BOOST_TEST(f.server.get_stats().connections_accepted == 8u);
}

BOOST_AUTO_TEST_CASE(without_sharing_every_cold_connection_handshakes_in_full)
{
    mock_fixture f(mock_setup{.tls = true, .scenario = pool_scenario});
    const auto s = open_cold_pool(f, 8, false);
    BOOST_TEST(s.connections_opened == 8u);
    BOOST_TEST(s.full_handshakes == 8u);
    BOOST_TEST(s.resumed_handshakes == 0u);
}

BOOST_AUTO_TEST_CASE(a_server_without_sessions_does_not_hold_the_pool_back)
{
    // The first connection's request completes without a session: the others stop waiting
    // and handshake in full, and every call succeeds.
    mock_fixture f(mock_setup{.tls = true, .tls_sessions = false, .scenario = pool_scenario});
    const auto s = open_cold_pool(f, 8, true);
    BOOST_TEST(s.connections_opened == 8u);
    BOOST_TEST(s.full_handshakes == 8u);
    BOOST_TEST(s.resumed_handshakes == 0u);
}

BOOST_AUTO_TEST_CASE(a_slow_first_response_does_not_hold_the_pool_back)
{
    // No sessions, and the first call's answer takes 2 s: the connections opened meanwhile
    // wait about one handshake time for a session, not for that answer, so their calls end
    // first.
    const char* scenario = R"({"rules": [
        {"candidate_id": "^first-", "steps": [{"status": 201, "delay_ms": 2000, "times": 0}]}
    ]})";
    mock_fixture f(mock_setup{.tls = true, .tls_sessions = false, .scenario = scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_connections = 8;
    client c(io, opts);
    std::vector<std::string> done;
    auto call = [&](std::string id) {
        c.async_create_candidate_note(
            id, note::from_text("x"), {}, [&, id](error_code ec, create_result) {
                BOOST_TEST(!ec);
                done.push_back(id);
            });
    };
    call("first-0");
    for (int i = 1; i < 8; ++i)
        call("next-" + std::to_string(i));
    io.run();
    BOOST_TEST_REQUIRE(done.size() == 8u);
    BOOST_TEST(done.back() == "first-0");
    BOOST_TEST(c.stats().full_handshakes == 8u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(graceful_shutdown)

BOOST_DATA_TEST_CASE(shutdown_lets_calls_finish_within_grace,
                     boost::unit_test::data::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = pool_scenario});
    asio::io_context io;
    client c(io, f.client_opts());
    BOOST_TEST(!create(io, c, "c-1").ec); // leaves an idle connection

    error_code in_flight = make_error_code(errc::internal_error);
    c.async_create_candidate_note(
        "slow-1", note::from_text("x"), {}, [&](error_code ec, create_result) { in_flight = ec; });
    error_code shut = make_error_code(errc::internal_error);
    c.async_shutdown(std::chrono::seconds(5), [&](error_code ec) { shut = ec; });
    error_code after = {};
    c.async_create_candidate_note(
        "c-2", note::from_text("x"), {}, [&](error_code ec, create_result) { after = ec; });
    io.run();
    BOOST_TEST(!in_flight);
    BOOST_TEST(!shut);
    BOOST_TEST(after == make_error_code(errc::shutting_down));
    BOOST_TEST(c.stats().open == 0u);
}

BOOST_AUTO_TEST_CASE(shutdown_cancels_calls_still_running_after_grace)
{
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": "^stuck-", "steps": [{"status": 201, "delay_ms": 30000}]}]})"});
    asio::io_context io;
    client c(io, f.client_opts());
    error_code in_flight;
    create_result res;
    c.async_create_candidate_note(
        "stuck-1", note::from_text("x"), {}, [&](error_code ec, create_result r) {
            in_flight = ec;
            res = std::move(r);
        });
    // Shut down once the request is with the server.
    asio::steady_timer poll(io);
    error_code shut = make_error_code(errc::internal_error);
    std::function<void()> shut_when_sent = [&] {
        if (f.server.get_stats().requests < 1)
        {
            poll.expires_after(std::chrono::milliseconds(2));
            poll.async_wait([&](error_code) { shut_when_sent(); });
            return;
        }
        c.async_shutdown(std::chrono::milliseconds(50), [&](error_code ec) { shut = ec; });
    };
    shut_when_sent();
    const auto started = std::chrono::steady_clock::now();
    io.run();
    BOOST_TEST(!shut);
    BOOST_TEST(in_flight == make_error_code(errc::cancelled));
    BOOST_TEST(res.diag.may_have_been_processed);
    // Cancelled after the grace, not after the server's 30 s.
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(10)));
}

BOOST_AUTO_TEST_SUITE_END()
