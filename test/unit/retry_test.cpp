// Retry-After parsing and the retry decision, with a fixed clock and random source.
#include <stackone/detail/retry.hpp>
#include <stackone/retry_after.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>

using namespace stackone;
using namespace stackone::detail;
using namespace std::chrono_literals;

namespace {

// 1994-11-06T08:49:37Z, the RFC's example date.
const auto rfc_date = std::chrono::system_clock::time_point(std::chrono::seconds(784111777));
const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
const auto no_deadline = std::chrono::steady_clock::time_point::max();

} // namespace

BOOST_AUTO_TEST_SUITE(retry_after)

BOOST_AUTO_TEST_CASE(delta_seconds)
{
    BOOST_TEST(parse_retry_after("120", rfc_date).value() == 120s);
    BOOST_TEST(parse_retry_after("0", rfc_date).value() == 0s);
    BOOST_TEST(parse_retry_after(" 7 ", rfc_date).value() == 7s);
}

BOOST_AUTO_TEST_CASE(http_date_in_all_three_formats)
{
    const auto now = rfc_date - 30s;
    BOOST_TEST(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now).value() == 30s);
    BOOST_TEST(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now).value() == 30s);
    BOOST_TEST(parse_retry_after("Sun Nov  6 08:49:37 1994", now).value() == 30s);
}

BOOST_AUTO_TEST_CASE(http_date_in_past_retries_now)
{
    BOOST_TEST(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_date + 1h).value() == 0s);
}

BOOST_AUTO_TEST_CASE(garbage_values_are_errors_not_exceptions)
{
    for (const char* bad : {"",
                            " ",
                            "-1",
                            "1.5",
                            "99999999999999999999",
                            "soon",
                            "12abc",
                            "Sun, 32 Nov 1994 08:49:37 GMT",
                            "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 25:49:37 GMT",
                            "Sun, 06 Nov 1994 08:49:37 UTC",
                            "Sun, 06 Nov 1994 08:49:37 GMT trailing",
                            "Sun Nov 6 08:49:37 1994"})
    {
        BOOST_TEST_CONTEXT(bad)
        {
            BOOST_TEST(parse_retry_after(bad, rfc_date).has_error());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retry_decision)

BOOST_AUTO_TEST_CASE(status_429_with_retry_after_waits_what_the_server_said)
{
    retry_options opts;
    const auto d = decide_retry(
        opts, 1, {make_http_error(429), true, "3", false}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == 3000);
}

BOOST_AUTO_TEST_CASE(retry_after_zero_is_raised_to_half_the_backoff)
{
    retry_options opts;
    const auto d = decide_retry(
        opts, 1, {make_http_error(429), true, "0", false}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == 500);
}

BOOST_AUTO_TEST_CASE(garbage_retry_after_falls_back_to_jittered_backoff)
{
    retry_options opts;
    auto d = decide_retry(
        opts, 2, {make_http_error(429), true, "soon", false}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == 1000); // backoff 2 s, half of it at random 0
    d = decide_retry(
        opts, 2, {make_http_error(429), true, "", false}, 0.999, t0, no_deadline, rfc_date);
    BOOST_TEST(d.delay.count() >= 1998);
    BOOST_TEST(d.delay.count() <= 2000);
}

BOOST_AUTO_TEST_CASE(backoff_is_capped)
{
    retry_options opts;
    opts.max_attempts = 50;
    opts.max_backoff = 5s;
    const auto d = decide_retry(
        opts, 20, {make_http_error(408), true, "", false}, 0.999, t0, no_deadline, rfc_date);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() <= 5000);
}

BOOST_AUTO_TEST_CASE(retry_after_above_max_ends_the_call)
{
    retry_options opts;
    opts.max_retry_after = 60s;
    const auto d = decide_retry(
        opts, 1, {make_http_error(429), true, "3600", false}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.final_ec == make_error_code(errc::retry_after_too_long));
}

BOOST_AUTO_TEST_CASE(heartbeat_response_without_retry_after_waits_the_documented_60s)
{
    retry_options opts;
    const auto d = decide_retry(
        opts, 1, {make_http_error(429), true, "", true}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == 60000);
}

BOOST_AUTO_TEST_CASE(no_sleep_past_the_deadline)
{
    retry_options opts;
    const auto d =
        decide_retry(opts, 1, {make_http_error(429), true, "5", false}, 0.0, t0, t0 + 4s, rfc_date);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.final_ec == make_error_code(errc::deadline_exceeded));
}

BOOST_AUTO_TEST_CASE(attempts_are_bounded)
{
    retry_options opts;
    opts.max_attempts = 2;
    const auto d = decide_retry(
        opts, 2, {make_http_error(429), true, "1", false}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.final_ec == make_http_error(429));
}

BOOST_AUTO_TEST_CASE(other_statuses_are_not_retried)
{
    retry_options opts;
    for (int status : {400, 401, 403, 404, 409, 412, 422, 500, 501, 502})
    {
        const auto d = decide_retry(
            opts, 1, {make_http_error(status), true, "1", false}, 0.0, t0, no_deadline, rfc_date);
        BOOST_TEST(!d.retry);
    }
}

BOOST_AUTO_TEST_CASE(transport_failure_before_sending_is_retried)
{
    retry_options opts;
    const auto d = decide_retry(
        opts, 1, {errc::connect_failed, false, "", false}, 0.5, t0, no_deadline, rfc_date);
    BOOST_TEST(d.retry);
}

BOOST_AUTO_TEST_CASE(failure_after_sending_is_never_replayed)
{
    retry_options opts;
    for (errc e : {errc::connection_closed,
                   errc::attempt_timeout,
                   errc::heartbeat_timeout,
                   errc::truncated,
                   errc::malformed_response})
    {
        const auto d = decide_retry(opts, 1, {e, true, "", false}, 0.5, t0, no_deadline, rfc_date);
        BOOST_TEST(!d.retry);
        BOOST_TEST(d.final_ec == make_error_code(e));
    }
}

BOOST_AUTO_TEST_CASE(certificate_failures_are_not_retried)
{
    retry_options opts;
    const auto d = decide_retry(
        opts, 1, {errc::tls_handshake_failed, false, "", false}, 0.5, t0, no_deadline, rfc_date);
    BOOST_TEST(!d.retry);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retry_shared_pressure)

BOOST_AUTO_TEST_CASE(at_most_once_does_not_replay_408)
{
    retry_options opts;
    opts.replay_408 = false;
    const auto d = decide_retry(
        opts, 1, {make_http_error(408), true, "1", false}, 0.0, t0, no_deadline, rfc_date);
    BOOST_TEST(!d.retry);
    BOOST_TEST(d.final_ec == make_http_error(408));
    // 429 is still retried: it says the request was not processed.
    BOOST_TEST(
        decide_retry(
            opts, 1, {make_http_error(429), true, "1", false}, 0.0, t0, no_deadline, rfc_date)
            .retry);
}

BOOST_AUTO_TEST_CASE(retry_after_delays_are_spread_over_half_a_backoff)
{
    retry_options opts; // initial backoff 1 s
    const auto low = decide_retry(
        opts, 1, {make_http_error(429), true, "2", false}, 0.0, t0, no_deadline, rfc_date);
    const auto high = decide_retry(
        opts, 1, {make_http_error(429), true, "2", false}, 0.99, t0, no_deadline, rfc_date);
    BOOST_TEST(low.delay.count() == 2000);
    BOOST_TEST(high.delay.count() >= 2490);
    BOOST_TEST(high.delay.count() < 2500);
}

BOOST_AUTO_TEST_CASE(budget_refuses_retries_when_empty_and_refills_on_success)
{
    retry_budget budget({.capacity = 10, .retry_cost = 5, .success_refund = 1});
    BOOST_TEST(budget.try_spend());
    BOOST_TEST(budget.try_spend());
    BOOST_TEST(!budget.try_spend());
    for (int i = 0; i < 5; ++i)
        budget.on_success();
    BOOST_TEST(budget.try_spend());
    BOOST_TEST(!budget.try_spend());
    for (int i = 0; i < 100; ++i)
        budget.on_success();
    BOOST_TEST(budget.tokens() == 10u);
}

BOOST_AUTO_TEST_CASE(zero_capacity_budget_never_refuses)
{
    retry_budget budget({.capacity = 0, .retry_cost = 5, .success_refund = 1});
    for (int i = 0; i < 1000; ++i)
        BOOST_TEST_REQUIRE(budget.try_spend());
}

BOOST_AUTO_TEST_CASE(pacer_spaces_attempts_at_the_rate)
{
    pacer p(1000); // one every 60 ms
    BOOST_TEST(p.enabled());
    const auto a = p.reserve(t0);
    const auto b = p.reserve(t0);
    const auto c = p.reserve(t0);
    BOOST_TEST((a == t0));
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count() == 60);
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(c - a).count() == 120);
    // After a quiet spell no backlog is owed: the next slot is "now".
    const auto later = t0 + 10s;
    BOOST_TEST((p.reserve(later) == later));
    BOOST_TEST(!pacer(0).enabled());
}

BOOST_AUTO_TEST_SUITE_END()
