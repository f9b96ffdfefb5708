// Retries against the mock: shared 429 pressure per account, spread retries, the retry
// budget, at-most-once and pacing.
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

const char* const retry_scenario = R"({"rules": [
    {"candidate_id": "^crowd-", "steps": [{"status": 429, "headers": {"Retry-After": "2"}}]},
    {"candidate_id": "^first-", "steps": [{"status": 429, "headers": {"Retry-After": "1"}}]},
    {"candidate_id": "^always429-", "steps": [{"status": 429, "headers": {"Retry-After": "0"},
                                              "times": 0}]},
    {"candidate_id": "^t408-", "steps": [{"status": 408, "headers": {"Retry-After": "0"}}]}
]})";

struct timed_outcome
{
    error_code ec;
    create_result result;
    steady::time_point done;
};

} // namespace

BOOST_AUTO_TEST_SUITE(retries)

BOOST_AUTO_TEST_CASE(crowd_told_retry_after_2_waits_and_comes_back_spread_out)
{
    mock_fixture f(mock_setup{.scenario = retry_scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.retry.initial_backoff = 1s; // spread: up to half a backoff on top of Retry-After
    opts.retry.max_backoff = 1s;
    opts.pool.max_connections = 50;
    client c(io, opts);

    std::vector<timed_outcome> outcomes(50);
    const auto started = steady::now();
    for (int i = 0; i < 50; ++i)
    {
        c.async_create_candidate_note("crowd-" + std::to_string(i),
                                      note::from_text("x"),
                                      {},
                                      [&, i](error_code ec, create_result r) {
                                          outcomes[i] = {ec, std::move(r), steady::now()};
                                      });
    }
    io.run();

    steady::time_point first = steady::time_point::max(), last{};
    for (const auto& o : outcomes)
    {
        BOOST_TEST(!o.ec, o.ec.message());
        BOOST_TEST(o.result.diag.attempts == 2);
        // No retry before the 2 s the server asked for.
        BOOST_TEST((o.done - started >= 2s));
        first = std::min(first, o.done);
        last = std::max(last, o.done);
    }
    // Not one burst: the retries are spread over (up to) half a backoff.
    BOOST_TEST((last - first > 100ms));
    BOOST_TEST(f.server.ledger().size() == 50u);
}

BOOST_AUTO_TEST_CASE(a_429_pauses_new_calls_for_the_same_account)
{
    mock_fixture f(mock_setup{.scenario = retry_scenario});
    asio::io_context io;
    client c(io, f.client_opts());

    timed_outcome limited, follower;
    c.async_create_candidate_note(
        "first-1", note::from_text("x"), {}, [&](error_code ec, create_result r) {
            limited = {ec, std::move(r), steady::now()};
        });
    // The second call starts once the client has taken in the first one's 429.
    asio::steady_timer poll(io);
    std::function<void()> start_follower = [&] {
        if (c.stats().retries < 1)
        {
            poll.expires_after(2ms);
            poll.async_wait([&](error_code) { start_follower(); });
            return;
        }
        c.async_create_candidate_note(
            "other-1", note::from_text("y"), {}, [&](error_code ec, create_result r) {
                follower = {ec, std::move(r), steady::now()};
            });
    };
    start_follower();
    io.run();

    BOOST_TEST(!limited.ec);
    BOOST_TEST(!follower.ec);
    BOOST_TEST(follower.result.diag.attempts == 1);
    BOOST_TEST(c.stats().rate_limit_waits == 1u);
    // The follower never met the limit itself: three requests in all.
    BOOST_TEST(f.server.get_stats().requests == 3u);
}

BOOST_AUTO_TEST_CASE(other_accounts_are_not_paused)
{
    mock_fixture f(mock_setup{.scenario = retry_scenario});
    asio::io_context io;
    client c(io, f.client_opts());
    bool first_done = false;
    c.async_create_candidate_note(
        "first-2", note::from_text("x"), {}, [&](error_code, create_result) { first_done = true; });
    // Run until the client took in the 429, then a call for another account goes straight
    // through.
    while (c.stats().retries < 1)
        io.run_one();
    call_options other;
    other.account_id = "acc-other";
    error_code other_ec;
    c.async_create_candidate_note(
        "x-1", note::from_text("y"), other, [&](error_code ec, create_result) { other_ec = ec; });
    io.run();
    BOOST_TEST(first_done);
    BOOST_TEST(!other_ec);
    BOOST_TEST(c.stats().rate_limit_waits == 0u);
}

BOOST_AUTO_TEST_CASE(with_the_shared_pause_off_a_429_holds_only_its_own_call)
{
    mock_fixture f(mock_setup{.scenario = retry_scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pause_account_on_429 = false;
    client c(io, opts);
    bool first_done = false;
    c.async_create_candidate_note(
        "first-3", note::from_text("x"), {}, [&](error_code, create_result) { first_done = true; });
    // Once the client has taken in the 429, a call for the same account goes straight through
    // and is done while the first still waits out its Retry-After: 1.
    while (c.stats().retries < 1)
        io.run_one();
    error_code follower_ec;
    bool follower_done = false;
    bool first_done_before_follower = false;
    c.async_create_candidate_note(
        "other-3", note::from_text("y"), {}, [&](error_code ec, create_result) {
            follower_ec = ec;
            follower_done = true;
            first_done_before_follower = first_done;
        });
    io.run();
    BOOST_TEST(follower_done);
    BOOST_TEST(!follower_ec);
    BOOST_TEST(!first_done_before_follower);
    BOOST_TEST(first_done);
    BOOST_TEST(c.stats().rate_limit_waits == 0u);
}

BOOST_AUTO_TEST_CASE(a_rate_limited_server_is_waited_out_and_every_note_created)
{
    // Two requests a second; the third of three calls on one connection is refused with
    // Retry-After: 1 and created by its retry in the next window.
    mock_fixture f(mock_setup{.rate_limit = 2, .rate_window = 1000ms});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.pool.max_connections = 1;
    client c(io, opts);
    std::vector<timed_outcome> outcomes(3);
    const auto started = steady::now();
    for (int i = 0; i < 3; ++i)
    {
        c.async_create_candidate_note("limited-" + std::to_string(i),
                                      note::from_text("x"),
                                      {},
                                      [&, i](error_code ec, create_result r) {
                                          outcomes[i] = {ec, std::move(r), steady::now()};
                                      });
    }
    io.run();
    int retried = 0;
    for (const auto& o : outcomes)
    {
        BOOST_TEST(!o.ec, o.ec.message());
        if (o.result.diag.attempts == 2)
        {
            ++retried;
            BOOST_TEST((o.done - started >= 1s));
        }
    }
    BOOST_TEST(retried == 1);
    BOOST_TEST(f.server.get_stats().rate_limited == 1u);
    BOOST_TEST(f.server.ledger().size() == 3u);
}

BOOST_AUTO_TEST_CASE(empty_retry_budget_fails_retryable_calls_at_once)
{
    mock_fixture f(mock_setup{.scenario = retry_scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.retry.max_attempts = 100;
    opts.retry.initial_backoff = 1ms;
    opts.retry.max_backoff = 2ms;
    opts.retry_budget = {.capacity = 10, .retry_cost = 5, .success_refund = 1};
    client c(io, opts);
    error_code ec;
    create_result res;
    c.async_create_candidate_note(
        "always429-1", note::from_text("x"), {}, [&](error_code e, create_result r) {
            ec = e;
            res = std::move(r);
        });
    io.run();
    BOOST_TEST(ec == make_error_code(errc::retry_budget_exhausted));
    BOOST_TEST(res.diag.attempts == 3); // two paid retries, then the budget was empty
    BOOST_TEST(c.stats().budget_exhausted == 1u);
}

BOOST_AUTO_TEST_CASE(at_most_once_turns_408_into_a_final_error)
{
    mock_fixture f(mock_setup{.scenario = retry_scenario});
    asio::io_context io;
    auto opts = f.client_opts();
    opts.retry.replay_408 = false;
    client c(io, opts);
    error_code ec;
    create_result res;
    c.async_create_candidate_note(
        "t408-1", note::from_text("x"), {}, [&](error_code e, create_result r) {
            ec = e;
            res = std::move(r);
        });
    io.run();
    BOOST_TEST(ec == make_http_error(408));
    BOOST_TEST(res.diag.attempts == 1);
    BOOST_TEST(res.diag.may_have_been_processed);
    BOOST_TEST(f.server.get_stats().requests == 1u);
}

BOOST_AUTO_TEST_CASE(pacer_spaces_requests)
{
    mock_fixture f;
    asio::io_context io;
    auto opts = f.client_opts();
    opts.requests_per_minute = 600; // one every 100 ms
    client c(io, opts);
    int created = 0;
    const auto started = steady::now();
    for (int i = 0; i < 5; ++i)
    {
        c.async_create_candidate_note("p-" + std::to_string(i),
                                      note::from_text("x"),
                                      {},
                                      [&](error_code ec, create_result) { created += !ec; });
    }
    io.run();
    BOOST_TEST(created == 5);
    // Five attempts at 100 ms spacing cannot all be done before the fifth slot at 400 ms.
    BOOST_TEST((steady::now() - started >= 400ms));
    BOOST_TEST(c.stats().paced_waits == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
