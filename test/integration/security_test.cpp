// Secrets never leak, redirects are never followed, HTTP/1.0-style closes are handled.
#include "fixture.hpp"

#include <stackone/client.hpp>
#include <stackone/import.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <utility>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;

namespace {

const char* const hostile_scenario = R"({"rules": [
    {"candidate_id": "^redirect-", "steps": [{"status": 302, "times": 0,
        "headers": {"Location": "https://elsewhere.invalid/steal"}}]},
    {"candidate_id": "^e401-", "steps": [{"status": 401, "message": "Unauthorized", "times": 0}]},
    {"candidate_id": "^rl-", "steps": [{"status": 429, "headers": {"Retry-After": "0"}}]},
    {"candidate_id": "^drop-", "steps": [{"action": "close_after_read", "times": 0}]},
    {"candidate_id": "^bye-", "steps": [{"status": 201, "headers": {"Connection": "close"},
                                        "times": 0}]}
]})";

} // namespace

BOOST_AUTO_TEST_SUITE(security)

BOOST_AUTO_TEST_CASE(redirects_are_not_followed)
{
    mock_fixture f(mock_setup{.scenario = hostile_scenario});
    asio::io_context io;
    client c(io, f.client_opts());
    error_code ec;
    create_result res;
    c.async_create_candidate_note(
        "redirect-1", note::from_text("x"), {}, [&](error_code e, create_result r) {
            ec = e;
            res = std::move(r);
        });
    io.run();
    BOOST_TEST(ec == make_http_error(302));
    BOOST_TEST(res.diag.attempts == 1);
    BOOST_TEST(f.server.get_stats().requests == 1u);
}

BOOST_AUTO_TEST_CASE(api_key_appears_in_no_log_result_or_error_text)
{
    mock_fixture f(mock_setup{.tls = true, .scenario = hostile_scenario});
    asio::io_context io;
    std::string log_text;
    auto opts = f.client_opts();
    opts.log.level = log_level::trace;
    opts.log.sink = [&](log_level l, std::string_view text) {
        log_text.append(to_string(l)).append(": ").append(text).append("\n");
    };
    client c(io, opts);

    // Successes, a 401, a retried 429, a dropped connection, a redirect and a closing server.
    std::string input;
    for (const char* id : {"ok-1", "e401-1", "rl-1", "drop-1", "redirect-1", "bye-1", "ok-2"})
        input += std::string(R"({"candidate_id":")") + id +
                 R"(","body":"secret test"})"
                 "\n";
    std::istringstream in(input);
    std::ostringstream out;
    import_options iopts;
    iopts.concurrency = 3;
    const auto summary =
        run_coroutine<import_summary>(io, [&] { return run_import(c, in, out, iopts); });
    BOOST_TEST(summary.done == 7u);

    std::string exception_text;
    try
    {
        throw stackone::error(make_http_error(401), {});
    }
    catch (const std::exception& e)
    {
        exception_text = e.what();
    }

    const std::string key = test_key;
    const std::string encoded_credentials = "c2tfdGVzdF9tYWRlX3VwX2tleV8xMjM6"; // key + ":"
    const std::string results = out.str();
    for (const std::string* text :
         {&std::as_const(log_text), &results, &std::as_const(exception_text)})
    {
        BOOST_TEST(text->find(key) == std::string::npos);
        BOOST_TEST(text->find(encoded_credentials) == std::string::npos);
        BOOST_TEST(text->find("Authorization") == std::string::npos);
    }
    // The log did say something at this level: the check above is not vacuous.
    BOOST_TEST(log_text.find("retrying") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(server_closing_after_each_response_leaves_the_pool_healthy)
{
    mock_fixture f(mock_setup{.scenario = hostile_scenario});
    asio::io_context io;
    client c(io, f.client_opts());
    int ok = 0;
    for (int i = 0; i < 3; ++i)
    {
        c.async_create_candidate_note("bye-" + std::to_string(i),
                                      note::from_text("x"),
                                      {},
                                      [&](error_code ec, create_result) { ok += !ec; });
        io.run();
        io.restart();
    }
    error_code last;
    c.async_create_candidate_note(
        "ok-1", note::from_text("x"), {}, [&](error_code ec, create_result) { last = ec; });
    io.run();
    BOOST_TEST(ok == 3);
    BOOST_TEST(!last);
}

BOOST_AUTO_TEST_SUITE_END()
