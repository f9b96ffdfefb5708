// Heartbeat-aware reading over real sockets, plain and TLS: long creates survive on
// heartbeats, silence and deadlines give their own errors, the body decides the outcome, and
// empty, cut and endless bodies give the right error.
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;

namespace {

const char* const heartbeat_scenario = R"({"rules": [
    {"candidate_id": "^long-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 10, "interval_ms": 1000}}]},
    {"candidate_id": "^quiet-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 10, "interval_ms": 1000}, "stall_after_heartbeats": 3}]},
    {"candidate_id": "^sl201-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 2, "interval_ms": 10, "bytes": "\r\n"}}]},
    {"candidate_id": "^sl429-", "steps": [{"status_line": 200, "status": 429,
        "heartbeats": {"count": 2, "interval_ms": 10}}]},
    {"candidate_id": "^sl422-", "steps": [{"status_line": 200, "status": 422, "times": 0,
        "heartbeats": {"count": 1, "interval_ms": 0},
        "provider_errors": [{"status": 422, "raw": {"why": "too long"}}]}]},
    {"candidate_id": "^mixed-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 3, "interval_ms": 0, "bytes": " \t"}, "mix_heartbeats": true,
        "chunk_size": 7}]},
    {"candidate_id": "^closed-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 3, "interval_ms": 0}, "framing": "close"}]},
    {"candidate_id": "^blank-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 5, "interval_ms": 0}, "framing": "close",
        "close_after_heartbeats": 5}]},
    {"candidate_id": "^cut-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 2, "interval_ms": 0}, "close_mid_body": true}]},
    {"candidate_id": "^gone-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 5, "interval_ms": 0}, "close_after_heartbeats": 2}]},
    {"candidate_id": "^rekey-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 1, "interval_ms": 0}, "stall_after_heartbeats": 1,
        "stall_key_updates_ms": 100}]},
    {"candidate_id": "^endless-", "steps": [{"status_line": 200, "status": 201, "times": 0,
        "heartbeats": {"count": 100000, "interval_ms": 0, "bytes": "\n\n\n\n\n\n\n\n"}}]}
]})";

client_options heartbeat_opts(const mock_fixture& f)
{
    auto o = f.client_opts();
    o.heartbeat = true;
    o.heartbeat_gap = 3s;
    o.retry.default_retry_after = 1s; // the documented 60 s would make the test slow
    return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(heartbeats)

BOOST_DATA_TEST_CASE(ten_seconds_of_heartbeats_within_the_gap_succeed,
                     bdata::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = heartbeat_scenario});
    asio::io_context io;
    client c(io, heartbeat_opts(f));
    const auto out = create(io, c, "long-1");
    BOOST_TEST(!out.ec, out.ec.message());
    BOOST_TEST(out.result.status == 201);
    BOOST_TEST(out.result.heartbeat_applied);
    BOOST_TEST(out.result.heartbeat_bytes == 10u);
    BOOST_TEST(out.result.id.has_value());

    // The connection that carried the heartbeats serves the next call.
    BOOST_TEST(!create(io, c, "sl201-1").ec);
    BOOST_TEST(f.server.get_stats().connections_accepted == 1u);
}

BOOST_DATA_TEST_CASE(silence_longer_than_the_gap_is_a_heartbeat_timeout,
                     bdata::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = heartbeat_scenario});
    asio::io_context io;
    auto opts = heartbeat_opts(f);
    opts.heartbeat_gap = 1500ms; // not a multiple of the 1 s interval: no race at the edge
    client c(io, opts);
    const auto out = create(io, c, "quiet-1");
    BOOST_TEST(out.ec == make_error_code(errc::heartbeat_timeout));
    BOOST_TEST(out.result.diag.may_have_been_processed);
    BOOST_TEST(out.result.heartbeat_applied);
    BOOST_TEST(out.result.heartbeat_bytes >= 2u);
    BOOST_TEST(out.result.diag.attempts == 1); // not retried
    BOOST_TEST(f.server.get_stats().requests == 1u);
    // Heartbeats re-armed the 1.5 s gap (so more than one gap passed), and the silence ended
    // the call about one gap after the last one, far from the 10 s the server wanted.
    BOOST_TEST((out.took >= 2000ms),
               "took " << std::chrono::duration_cast<std::chrono::milliseconds>(out.took).count());
    BOOST_TEST((out.took < 8s));
}

BOOST_AUTO_TEST_CASE(tls_records_without_response_bytes_do_not_rearm_the_gap)
{
    // After one heartbeat the server sends only TLS 1.3 key updates, five per gap: no byte of
    // the response, so the gap runs out long before the deadline.
    mock_fixture f(mock_setup{.tls = true, .scenario = heartbeat_scenario});
    asio::io_context io;
    auto opts = heartbeat_opts(f);
    opts.heartbeat_gap = 500ms;
    client c(io, opts);
    call_options call;
    call.deadline = 5s;
    const auto out = create(io, c, "rekey-1", note::from_text("slow provider"), call);
    BOOST_TEST(out.ec == make_error_code(errc::heartbeat_timeout), out.ec.message());
    BOOST_TEST(out.result.heartbeat_bytes == 1u);
    BOOST_TEST(out.result.diag.may_have_been_processed);
    // The key updates did flow while the call waited (about one per 100 ms of a 500 ms gap).
    BOOST_TEST(f.server.get_stats().tls_key_updates_sent >= 2u);
}

BOOST_DATA_TEST_CASE(overall_deadline_is_not_rearmed_by_heartbeats, bdata::make({false, true}), tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = heartbeat_scenario});
    asio::io_context io;
    client c(io, heartbeat_opts(f));
    call_options opts;
    opts.deadline = 4s;
    const auto out = create(io, c, "long-2", note::from_text("slow provider"), opts);
    BOOST_TEST(out.ec == make_error_code(errc::deadline_exceeded));
    BOOST_TEST(out.result.diag.may_have_been_processed);
    BOOST_TEST((out.took >= 3900ms));
    BOOST_TEST((out.took < 8s));
}

BOOST_DATA_TEST_CASE(body_status_decides_after_heartbeats, bdata::make({false, true}), tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = heartbeat_scenario});
    asio::io_context io;
    client c(io, heartbeat_opts(f));

    const auto created = create(io, c, "sl201-2");
    BOOST_TEST(!created.ec, created.ec.message());
    BOOST_TEST(created.result.diag.http_status == 200);
    BOOST_TEST(created.result.status == 201);
    BOOST_TEST(created.result.heartbeat_bytes == 4u); // two "\r\n"

    // A late 429 is retried like an early one, then created.
    const auto limited = create(io, c, "sl429-1");
    BOOST_TEST(!limited.ec, limited.ec.message());
    BOOST_TEST(limited.result.diag.attempts == 2);

    const auto rejected = create(io, c, "sl422-1");
    BOOST_TEST(rejected.ec == make_http_error(422));
    BOOST_TEST(rejected.result.diag.provider_errors.at(0).at("raw").at("why") == "too long");
    BOOST_TEST(f.server.ledger().size() == 2u);
}

BOOST_DATA_TEST_CASE(heartbeats_inside_chunks_and_close_delimited_bodies_parse,
                     bdata::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = heartbeat_scenario});
    asio::io_context io;
    client c(io, heartbeat_opts(f));
    const auto mixed = create(io, c, "mixed-1");
    BOOST_TEST(!mixed.ec, mixed.ec.message());
    BOOST_TEST(mixed.result.id.has_value());
    const auto closed = create(io, c, "closed-1");
    BOOST_TEST(!closed.ec, closed.ec.message());
    BOOST_TEST(closed.result.heartbeat_bytes == 3u);
}

BOOST_DATA_TEST_CASE(empty_cut_and_endless_bodies_give_their_own_errors,
                     bdata::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls, .scenario = heartbeat_scenario});
    asio::io_context io;
    auto opts = heartbeat_opts(f);
    opts.limits.heartbeat_bytes = 4096;
    client c(io, opts);

    BOOST_TEST(create(io, c, "blank-1").ec == make_error_code(errc::empty_body));
    BOOST_TEST(create(io, c, "cut-1").ec == make_error_code(errc::truncated));
    BOOST_TEST(create(io, c, "gone-1").ec == make_error_code(errc::truncated));
    const auto endless = create(io, c, "endless-1");
    BOOST_TEST(endless.ec == make_error_code(errc::too_many_heartbeats));
    BOOST_TEST(endless.result.diag.may_have_been_processed);

    // None of them was replayed, and the pool still works.
    BOOST_TEST(!create(io, c, "sl201-3").ec);
    BOOST_TEST(f.server.get_stats().requests == 5u);
}

BOOST_AUTO_TEST_SUITE_END()
