// The bulk importer against the mock server: outcomes per line, line numbers, the ledger.
#include "fixture.hpp"

#include <stackone/import.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct import_run_result
{
    import_summary summary;
    std::vector<json::object> results;
};

import_run_result run_import_text(mock_fixture& f, const std::string& input, std::size_t conc)
{
    asio::io_context io;
    client c(io, f.client_opts());
    std::istringstream in(input);
    std::ostringstream out;
    import_options opts;
    opts.concurrency = conc;
    import_run_result r;
    r.summary = run_coroutine<import_summary>(io, [&]() { return run_import(c, in, out, opts); });
    std::istringstream lines(out.str());
    for (std::string line; std::getline(lines, line);)
        r.results.push_back(json::parse(line).as_object());
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(bulk_import)

BOOST_DATA_TEST_CASE(malformed_lines_are_rejected_by_number_and_the_rest_created,
                     boost::unit_test::data::make({false, true}),
                     tls)
{
    mock_fixture f(mock_setup{.tls = tls});
    const std::set<std::size_t> bad_lines{17, 100, 200};
    std::string input;
    for (std::size_t line = 1; line <= 200; ++line)
    {
        if (line == 17)
            input += "{\"candidate_id\": \"c-17\", \"body\": \n"; // cut short
        else if (line == 100)
            input += "{\"body\": \"no candidate\"}\n";
        else if (line == 200)
            input += "[\"not\", \"an object\"]\n";
        else
            input += R"({"candidate_id":"c-)" + std::to_string(line) + R"(","key":"k-)" +
                     std::to_string(line) + R"(","body":"note )" + std::to_string(line) + "\"}\n";
    }

    const auto r = run_import_text(f, input, 8);
    BOOST_TEST(r.summary.finished);
    BOOST_TEST(r.summary.lines == 200u);
    BOOST_TEST(r.summary.created == 197u);
    BOOST_TEST(r.summary.rejected == 3u);
    BOOST_TEST(r.results.size() == 200u);

    // One result per line; the rejected ones are exactly the bad lines and say so.
    std::map<std::size_t, json::object> by_line;
    for (const auto& res : r.results)
        by_line[static_cast<std::size_t>(res.at("line").as_int64())] = res;
    BOOST_TEST(by_line.size() == 200u);
    for (std::size_t line : bad_lines)
    {
        BOOST_TEST(by_line[line].at("outcome") == "rejected");
        const std::string error(by_line[line].at("error").as_string());
        BOOST_TEST(error.find("line " + std::to_string(line) + ":") == 0u);
    }

    // The ledger holds exactly the created notes, each once, for the right candidate.
    const auto ledger = f.server.ledger();
    BOOST_TEST(ledger.size() == 197u);
    std::map<std::string, std::string> ledger_candidate;
    for (const auto& e : ledger)
        BOOST_TEST(ledger_candidate.emplace(e.id, e.candidate_id).second);
    for (const auto& [line, res] : by_line)
    {
        if (bad_lines.count(line))
            continue;
        BOOST_TEST(res.at("outcome") == "created");
        BOOST_TEST(res.at("key").as_string() == "k-" + std::to_string(line));
        const std::string id(res.at("id").as_string());
        BOOST_TEST(ledger_candidate[id] == "c-" + std::to_string(line));
    }
}

BOOST_AUTO_TEST_CASE(lines_naming_their_account_use_it)
{
    mock_fixture f;
    const auto r = run_import_text(f,
                                   R"({"candidate_id":"c-1","account_id":"acc-other","body":"x"})"
                                   "\n",
                                   2);
    BOOST_TEST(r.summary.created == 1u);
    const auto ledger = f.server.ledger();
    BOOST_TEST_REQUIRE(ledger.size() == 1u);
    BOOST_TEST(ledger[0].account_id == "acc-other");
}

BOOST_AUTO_TEST_CASE(server_refusals_are_failed_and_not_in_the_ledger)
{
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": "^bad", "steps": [{"status": 422, "message": "no", "times": 0}]}]})"});
    const auto r = run_import_text(f,
                                   R"({"candidate_id":"bad-1","body":"x"})"
                                   "\n"
                                   R"({"candidate_id":"good-1","body":"y"})"
                                   "\n",
                                   2);
    BOOST_TEST(r.summary.created == 1u);
    BOOST_TEST(r.summary.failed == 1u);
    BOOST_TEST(!r.summary.all_created());
    BOOST_TEST(f.server.ledger().size() == 1u);
}

BOOST_AUTO_TEST_CASE(empty_input_gives_no_results)
{
    mock_fixture f;
    const auto r = run_import_text(f, "", 4);
    BOOST_TEST(r.summary.finished);
    BOOST_TEST(r.summary.lines == 0u);
    BOOST_TEST(r.results.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bulk_import_cancel)

BOOST_AUTO_TEST_CASE(cancelling_an_import_stops_reading_and_reports_every_line_taken)
{
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": "^slow", "steps": [{"status": 429, "headers": {"Retry-After": "30"},
                                             "times": 0}]}]})"});
    std::string input;
    for (int i = 1; i <= 50; ++i)
        input += R"({"candidate_id":"slow-)" + std::to_string(i) +
                 R"(","body":"x"})"
                 "\n";

    asio::io_context io;
    client c(io, f.client_opts());
    std::istringstream in(input);
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 4;
    // Cancel once the first four calls were answered 429 and are waiting out Retry-After.
    const auto summary = import_cancelled_after(io, c, in, out, opts, f.server, 4);

    BOOST_TEST_REQUIRE(summary.has_value());
    BOOST_TEST(!summary->finished);
    BOOST_TEST(summary->lines < 50u);
    // Every line that was read has exactly one result; nothing was created.
    BOOST_TEST(summary->done == summary->lines);
    std::size_t result_lines = 0;
    std::istringstream lines(out.str());
    for (std::string line; std::getline(lines, line);)
        ++result_lines;
    BOOST_TEST(result_lines == summary->lines);
    BOOST_TEST(summary->created == 0u);
    BOOST_TEST(f.server.ledger().empty());
}

BOOST_AUTO_TEST_CASE(blank_lines_are_skipped_without_a_result)
{
    mock_fixture f;
    const auto r = run_import_text(f,
                                   "\n"
                                   R"({"candidate_id":"c-1","body":"x"})"
                                   "\n\n  \n",
                                   2);
    BOOST_TEST(r.summary.lines == 4u);
    BOOST_TEST(r.summary.blank == 3u);
    BOOST_TEST(r.summary.created == 1u);
    BOOST_TEST(r.summary.all_created());
    BOOST_TEST_REQUIRE(r.results.size() == 1u);
    BOOST_TEST(r.results[0].at("line") == 2);
}

BOOST_AUTO_TEST_SUITE_END()
