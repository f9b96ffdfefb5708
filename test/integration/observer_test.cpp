// client_options::on_attempt: one event per attempt, with what a metrics exporter needs.
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

const char* const observer_scenario = R"({"rules": [
    {"candidate_id": "^rl-", "steps": [{"status": 429, "headers": {"Retry-After": "1"}}]},
    {"candidate_id": "^hb-", "steps": [{"status_line": 200, "status": 201,
        "heartbeats": {"count": 3, "interval_ms": 0, "bytes": "\n"}}]},
    {"candidate_id": "^drop-", "steps": [{"action": "close_after_read"}]}
]})";

// An event copied out of the observer (its views die with the call).
struct seen_event
{
    std::string candidate_id;
    std::string account_id;
    attempt_event ev;
};

// Client options that record every event into @p events.
client_options recording(const mock_fixture& f, std::vector<seen_event>& events)
{
    auto opts = f.client_opts();
    opts.on_attempt = [&events](const attempt_event& ev) {
        seen_event s{std::string(ev.candidate_id), std::string(ev.account_id), ev};
        s.ev.candidate_id = {};
        s.ev.account_id = {};
        events.push_back(std::move(s));
    };
    return opts;
}

} // namespace

BOOST_AUTO_TEST_SUITE(observer)

BOOST_AUTO_TEST_CASE(a_429_then_201_gives_two_events_with_the_retry_delay_and_reuse)
{
    mock_fixture f(mock_setup{.scenario = observer_scenario});
    asio::io_context io;
    std::vector<seen_event> events;
    client c(io, recording(f, events));

    auto out = create(io, c, "rl-1");
    BOOST_TEST_REQUIRE(!out.ec, out.ec.message());
    BOOST_TEST_REQUIRE(events.size() == 2u);

    const auto& first = events[0].ev;
    BOOST_TEST(events[0].candidate_id == "rl-1");
    BOOST_TEST(events[0].account_id == "acc-test-1");
    BOOST_TEST(first.attempt == 1);
    BOOST_TEST(first.status == 429);
    BOOST_TEST((first.ec == make_http_error(429)));
    BOOST_TEST(first.will_retry);
    BOOST_TEST((first.retry_delay >= 1s)); // Retry-After: 1, jitter only adds
    BOOST_TEST(first.request_sent);
    BOOST_TEST(!first.connection_reused);
    BOOST_TEST((first.latency > std::chrono::steady_clock::duration::zero()));

    const auto& second = events[1].ev;
    BOOST_TEST(second.attempt == 2);
    BOOST_TEST(!second.ec);
    BOOST_TEST(second.status == 201);
    BOOST_TEST(!second.will_retry);
    BOOST_TEST(second.retry_delay.count() == 0);
    BOOST_TEST(second.connection_reused); // the 429 left the connection open
    // It waited out the Retry-After.
    BOOST_TEST((second.waited >= 1s),
               "waited " << std::chrono::duration<double>(second.waited).count() << " s");
}

BOOST_AUTO_TEST_CASE(heartbeat_bytes_are_reported_per_attempt)
{
    mock_fixture f(mock_setup{.scenario = observer_scenario});
    asio::io_context io;
    std::vector<seen_event> events;
    client c(io, recording(f, events));

    call_options heartbeat;
    heartbeat.heartbeat = true;
    auto out = create(io, c, "hb-1", note::from_text("slow provider"), heartbeat);
    BOOST_TEST_REQUIRE(!out.ec, out.ec.message());
    BOOST_TEST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].ev.status == 201);
    BOOST_TEST(events[0].ev.heartbeat_bytes == 3u);
    BOOST_TEST(events[0].ev.heartbeat_applied);
}

BOOST_AUTO_TEST_CASE(a_connection_lost_after_the_request_is_one_event_without_retry)
{
    mock_fixture f(mock_setup{.scenario = observer_scenario});
    asio::io_context io;
    std::vector<seen_event> events;
    client c(io, recording(f, events));

    auto out = create(io, c, "drop-1");
    BOOST_TEST((out.ec == errc::connection_closed));
    BOOST_TEST_REQUIRE(events.size() == 1u);
    const auto& ev = events[0].ev;
    BOOST_TEST((ev.ec == errc::connection_closed));
    BOOST_TEST(ev.status == 0);
    BOOST_TEST(ev.request_sent);
    BOOST_TEST(!ev.will_retry);
}

BOOST_AUTO_TEST_CASE(a_throwing_observer_does_not_break_the_call_and_is_logged_once)
{
    mock_fixture f;
    asio::io_context io;
    auto opts = f.client_opts();
    int calls = 0;
    opts.on_attempt = [&calls](const attempt_event&) {
        ++calls;
        throw std::runtime_error("exporter is down");
    };
    std::vector<std::string> warnings;
    opts.log.level = log_level::warn;
    opts.log.sink = [&warnings](log_level, std::string_view text) { warnings.emplace_back(text); };
    client c(io, opts);

    for (int i = 0; i < 3; ++i)
    {
        auto out = create(io, c, "cand-" + std::to_string(i));
        BOOST_TEST(!out.ec, out.ec.message());
    }
    BOOST_TEST(calls == 3);
    BOOST_TEST_REQUIRE(warnings.size() == 1u);
    BOOST_TEST(warnings[0].find("exporter is down") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
