// The importer's journal and resume: torn and corrupt journals, skipping done lines, lines in
// flight at a crash (unknown, or resent when asked), the results file repaired from the
// journal, and the grace given to calls in flight on cancellation.
#include "fixture.hpp"

#include <stackone/import.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <csignal>

#include <sys/resource.h>
#include <unistd.h>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed at the end.
struct temp_dir
{
    temp_dir()
    {
        static std::atomic<int> counter{0};
        path = fs::temp_directory_path() /
               ("stackone-resume-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }

    fs::path path;
};

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// Input lines c-1 ... c-n, each with its key.
std::string make_input(int n)
{
    std::string input;
    for (int i = 1; i <= n; ++i)
    {
        input += R"({"candidate_id":"c-)" + std::to_string(i) + R"(","key":"k-)" +
                 std::to_string(i) + R"(","body":"note )" + std::to_string(i) + "\"}\n";
    }
    return input;
}

// What a run that died would have left: lines 1..started started, 1..done with a result.
import_journal make_crashed_journal(const std::string& path, int started, int done)
{
    auto j = import_journal::create(path, "input-1");
    BOOST_TEST_REQUIRE(j.has_value());
    for (int line = 1; line <= started; ++line)
        BOOST_TEST_REQUIRE(j->record_started(static_cast<std::size_t>(line)).has_value());
    for (int line = 1; line <= done; ++line)
    {
        import_record r;
        r.line = static_cast<std::size_t>(line);
        r.candidate_id = "c-" + std::to_string(line);
        r.outcome = import_outcome::created;
        r.status = 201;
        r.id = "earlier-" + std::to_string(line);
        r.attempts = 1;
        BOOST_TEST_REQUIRE(j->record_result(r, to_json_line(r)).has_value());
    }
    return std::move(*j);
}

struct resumed_run
{
    import_summary summary;
    std::map<std::size_t, json::object> by_line;
    std::size_t result_lines = 0;
};

resumed_run resume(mock_fixture& f, import_journal& j, const std::string& input, bool resend)
{
    asio::io_context io;
    client c(io, f.client_opts());
    std::istringstream in(input);
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 3;
    opts.journal = &j;
    opts.resend_unknown = resend;
    resumed_run r;
    r.summary = run_coroutine<import_summary>(io, [&]() { return run_import(c, in, out, opts); });
    for (const auto& line : lines_of(out.str()))
    {
        auto obj = json::parse(line).as_object();
        r.by_line[static_cast<std::size_t>(obj.at("line").as_int64())] = obj;
        ++r.result_lines;
    }
    return r;
}

std::set<std::string> ledger_candidates(mock_fixture& f)
{
    std::set<std::string> ids;
    for (const auto& e : f.server.ledger())
        ids.insert(e.candidate_id);
    return ids;
}

} // namespace

BOOST_AUTO_TEST_SUITE(bulk_import_resume)

BOOST_AUTO_TEST_CASE(a_torn_last_record_is_dropped_and_cut_off_the_file)
{
    temp_dir dir;
    const auto path = dir.file("j");
    const std::string complete = "{\"stackone_import_journal\":1,\"input\":\"input-1\"}\n"
                                 "S 1\n"
                                 "R 1 created {\"line\":1,\"outcome\":\"created\",\"id\":\"a\"}\n"
                                 "S 2\n"
                                 "S 3\n"
                                 "R 3 failed {\"line\":3,\"outcome\":\"failed\"}\n";
    write_file(path, complete + "R 2 created {\"line\":2,\"outc");

    auto j = import_journal::open(path, "input-1");
    BOOST_TEST_REQUIRE(j.has_value(), (j ? "" : j.error().what));
    BOOST_TEST(j->is_done(1));
    BOOST_TEST(!j->is_done(2)); // its result record was torn: still in flight
    BOOST_TEST(j->is_done(3));
    BOOST_TEST(j->in_flight() == std::set<std::size_t>{2});
    BOOST_TEST(j->results() == 2u);
    BOOST_TEST(j->recorded().created == 1u);
    BOOST_TEST(j->recorded().failed == 1u);
    BOOST_TEST(read_file(path) == complete);

    // New records start on a line of their own, and the file reads back.
    BOOST_TEST_REQUIRE(j->record_started(4).has_value());
    BOOST_TEST(read_file(path) == complete + "S 4\n");
    auto again = import_journal::open(path, "input-1");
    BOOST_TEST_REQUIRE(again.has_value());
    BOOST_TEST((again->in_flight() == std::set<std::size_t>{2, 4}));
}

BOOST_AUTO_TEST_CASE(a_journal_of_another_input_a_corrupt_one_or_none_is_refused)
{
    temp_dir dir;
    const std::string header = "{\"stackone_import_journal\":1,\"input\":\"input-1\"}\n";
    auto refused = [&](const std::string& text, std::string_view id, std::string_view expect) {
        const auto path = dir.file("j");
        write_file(path, text);
        auto j = import_journal::open(path, id);
        BOOST_TEST_REQUIRE(!j.has_value());
        BOOST_TEST(j.error().what.find(expect) != std::string::npos, j.error().what);
    };

    refused(header + "S 1\n", "input-2", "records another input");
    refused(header + "S 1\nX 2\nS 3\n", "input-1", "corrupt at line 3");
    refused(header + "S 1\nS x\n", "input-1", "bad start record");
    refused(header + "R 1 created {\"line\":1}\nR 1 created {\"line\":1}\n",
            "input-1",
            "a second result for line 1");
    refused(header + "R 1 maybe {\"line\":1}\n", "input-1", "bad result record");
    refused("{\"line\":1,\"outcome\":\"created\"}\n", "input-1", "is not an import journal");

    auto missing = import_journal::open(dir.file("none"), "input-1");
    BOOST_TEST_REQUIRE(!missing.has_value());
    BOOST_TEST(missing.error().what.find("cannot read journal") != std::string::npos);

    // create() does not replace an earlier journal unless told to.
    const auto path = dir.file("existing");
    write_file(path, header);
    BOOST_TEST(!import_journal::create(path, "input-1").has_value());
    BOOST_TEST(import_journal::create(path, "input-1", true).has_value());
}

BOOST_AUTO_TEST_CASE(a_journal_that_cannot_be_written_is_an_error)
{
    // /dev/full accepts the open and refuses every write (ENOSPC).
    auto j = import_journal::create("/dev/full", "input-1", true);
    BOOST_TEST_REQUIRE(!j.has_value());
    BOOST_TEST(j.error().what.find("cannot write journal") != std::string::npos, j.error().what);
}

BOOST_AUTO_TEST_CASE(a_journal_write_failure_stops_the_import_and_a_resume_finishes_it)
{
    mock_fixture f;
    temp_dir dir;
    auto j = import_journal::create(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(j.has_value());
    const auto input = make_input(50);

    // Files of this process may grow to 2 KiB, so the journal fails after a dozen lines (EFBIG;
    // SIGXFSZ ignored). Only this import writes files meanwhile.
    rlimit saved{};
    BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto* saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 2048;
    BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::ostringstream first;
    import_summary summary;
    {
        asio::io_context io;
        client c(io, f.client_opts());
        std::istringstream in(input);
        import_options opts;
        opts.concurrency = 3;
        opts.journal = &*j;
        summary =
            run_coroutine<import_summary>(io, [&]() { return run_import(c, in, first, opts); });
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);

    // Stopped early, saying why; every result written is in the journal, in the same order.
    BOOST_TEST(!summary.finished);
    BOOST_TEST(summary.error.find("cannot write journal") != std::string::npos, summary.error);
    BOOST_TEST(summary.lines < 50u);
    std::ostringstream copied;
    BOOST_TEST_REQUIRE(j->copy_results(copied, 0).has_value());
    BOOST_TEST(copied.str() == first.str());

    // A resume gives every other line its one result.
    auto reopened = import_journal::open(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(reopened.has_value());
    const auto r = resume(f, *reopened, input, false);
    BOOST_TEST(r.summary.finished);
    std::map<std::size_t, int> results_per_line;
    for (const auto& line : lines_of(first.str()))
        ++results_per_line[static_cast<std::size_t>(json::parse(line).at("line").as_int64())];
    for (const auto& [line, res] : r.by_line)
        ++results_per_line[line];
    BOOST_TEST(results_per_line.size() == 50u);
    for (const auto& [line, n] : results_per_line)
        BOOST_TEST(n == 1, "line " << line << ": " << n << " results");
    BOOST_TEST(r.summary.created + r.summary.unknown == 50u);
    BOOST_TEST(f.server.ledger().size() >= r.summary.created);
}

BOOST_AUTO_TEST_CASE(the_journal_has_every_result_in_the_order_of_the_results)
{
    mock_fixture f;
    temp_dir dir;
    auto input = make_input(20);
    input += "not json\n\n";
    auto j = import_journal::create(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(j.has_value());

    asio::io_context io;
    client c(io, f.client_opts());
    std::istringstream in(input);
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 4;
    opts.journal = &*j;
    const auto summary =
        run_coroutine<import_summary>(io, [&]() { return run_import(c, in, out, opts); });
    BOOST_TEST(summary.finished);
    BOOST_TEST(summary.created == 20u);
    BOOST_TEST(summary.rejected == 1u);

    // The results are exactly the journal's result records, in the same order.
    std::ostringstream copied;
    auto n = j->copy_results(copied, 0);
    BOOST_TEST_REQUIRE(n.has_value());
    BOOST_TEST(*n == 21u);
    BOOST_TEST(copied.str() == out.str());

    // Reopened, every line is done and none is in flight.
    auto reopened = import_journal::open(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(reopened.has_value());
    BOOST_TEST(reopened->results() == 21u);
    BOOST_TEST(reopened->in_flight().empty());
    for (std::size_t line = 1; line <= 21; ++line)
        BOOST_TEST(reopened->is_done(line));
    BOOST_TEST(!reopened->is_done(22)); // the blank line has no result
}

BOOST_AUTO_TEST_CASE(resume_skips_done_lines_and_marks_lines_in_flight_unknown)
{
    mock_fixture f;
    temp_dir dir;
    make_crashed_journal(dir.file("j"), 6, 4);
    auto j = import_journal::open(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(j.has_value());
    BOOST_TEST((j->in_flight() == std::set<std::size_t>{5, 6}));

    const auto r = resume(f, *j, make_input(10), false);

    // Lines 1-4 are neither sent nor given a second result; 5 and 6 are unknown, unsent.
    BOOST_TEST(r.result_lines == 6u);
    BOOST_TEST(r.by_line.size() == 6u);
    for (std::size_t line : {5, 6})
    {
        const auto& res = r.by_line.at(line);
        BOOST_TEST(res.at("outcome") == "unknown");
        BOOST_TEST(res.at("key").as_string() == "k-" + std::to_string(line));
        const std::string error(res.at("error").as_string());
        BOOST_TEST(error.find("in flight when an earlier run stopped") == 0u, error);
    }
    for (std::size_t line = 7; line <= 10; ++line)
        BOOST_TEST(r.by_line.at(line).at("outcome") == "created");
    BOOST_TEST((ledger_candidates(f) == std::set<std::string>{"c-7", "c-8", "c-9", "c-10"}));
    BOOST_TEST(f.server.ledger().size() == 4u);

    // The summary covers the whole input, the earlier run's results included.
    BOOST_TEST(r.summary.finished);
    BOOST_TEST(r.summary.lines == 10u);
    BOOST_TEST(r.summary.done == 10u);
    BOOST_TEST(r.summary.skipped == 4u);
    BOOST_TEST(r.summary.created == 8u);
    BOOST_TEST(r.summary.unknown == 2u);
    BOOST_TEST(!r.summary.all_created());

    // A second resume finds nothing left to do.
    auto done = import_journal::open(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(done.has_value());
    BOOST_TEST(done->in_flight().empty());
    const auto again = resume(f, *done, make_input(10), false);
    BOOST_TEST(again.result_lines == 0u);
    BOOST_TEST(again.summary.skipped == 10u);
    BOOST_TEST(f.server.ledger().size() == 4u);
}

BOOST_AUTO_TEST_CASE(resend_unknown_sends_lines_in_flight_again_as_possible_duplicates)
{
    mock_fixture f;
    temp_dir dir;
    make_crashed_journal(dir.file("j"), 6, 4);
    auto j = import_journal::open(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(j.has_value());

    const auto r = resume(f, *j, make_input(10), true);

    BOOST_TEST(r.result_lines == 6u);
    for (std::size_t line : {5, 6})
    {
        const auto& res = r.by_line.at(line);
        BOOST_TEST(res.at("outcome") == "created");
        BOOST_TEST(res.at("possible_duplicate") == true);
    }
    for (std::size_t line = 7; line <= 10; ++line)
        BOOST_TEST(!r.by_line.at(line).contains("possible_duplicate"));
    BOOST_TEST(f.server.ledger().size() == 6u);
    BOOST_TEST(ledger_candidates(f).count("c-5") == 1u);
    BOOST_TEST(r.summary.resent == 2u);
    BOOST_TEST(r.summary.created == 10u);
}

BOOST_AUTO_TEST_CASE(a_resent_line_that_fails_is_unknown)
{
    // The first request may have created it; a refusal of the second says nothing about that.
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": "^c-5$", "steps": [{"status": 409, "times": 0}]}]})"});
    temp_dir dir;
    make_crashed_journal(dir.file("j"), 5, 4);
    auto j = import_journal::open(dir.file("j"), "input-1");
    BOOST_TEST_REQUIRE(j.has_value());

    const auto r = resume(f, *j, make_input(5), true);
    BOOST_TEST_REQUIRE(r.by_line.count(5) == 1u);
    BOOST_TEST(r.by_line.at(5).at("outcome") == "unknown");
    BOOST_TEST(r.by_line.at(5).at("status") == 409);
    BOOST_TEST(r.by_line.at(5).at("possible_duplicate") == true);
}

BOOST_AUTO_TEST_CASE(sync_results_file_cuts_a_torn_line_and_copies_what_the_journal_has)
{
    temp_dir dir;
    auto j = make_crashed_journal(dir.file("j"), 3, 3);
    std::ostringstream all;
    BOOST_TEST_REQUIRE(j.copy_results(all, 0).has_value());
    const auto expected = lines_of(all.str());
    BOOST_TEST_REQUIRE(expected.size() == 3u);

    // One complete line and half of the next: the half goes, lines 2 and 3 are copied.
    const auto results = dir.file("results.jsonl");
    write_file(results, expected[0] + "\n" + expected[1].substr(0, 10));
    auto synced = sync_results_file(j, results);
    BOOST_TEST_REQUIRE(synced.has_value(), (synced ? "" : synced.error().what));
    BOOST_TEST(*synced == 2u);
    BOOST_TEST(read_file(results) == all.str());

    // In agreement already: nothing to do.
    synced = sync_results_file(j, results);
    BOOST_TEST_REQUIRE(synced.has_value());
    BOOST_TEST(*synced == 0u);
    BOOST_TEST(read_file(results) == all.str());

    // A missing results file is made from the journal.
    const auto fresh = dir.file("fresh.jsonl");
    synced = sync_results_file(j, fresh);
    BOOST_TEST_REQUIRE(synced.has_value());
    BOOST_TEST(read_file(fresh) == all.str());

    // More results than the journal knows of: another import's file, left alone.
    const auto other = dir.file("other.jsonl");
    write_file(other, all.str() + expected[0] + "\n");
    synced = sync_results_file(j, other);
    BOOST_TEST_REQUIRE(!synced.has_value());
    BOOST_TEST(synced.error().what.find("not of the same import") != std::string::npos);
    BOOST_TEST(read_file(other) == all.str() + expected[0] + "\n");
}

BOOST_AUTO_TEST_CASE(cancel_grace_lets_calls_in_flight_finish)
{
    // Every answer takes 300 ms; the cancellation comes while the first calls wait for theirs.
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": ".", "steps": [{"status": 201, "delay_ms": 300, "times": 0}]}]})"});
    asio::io_context io;
    client c(io, f.client_opts());
    std::istringstream in(make_input(50));
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 4;
    opts.cancel_grace = std::chrono::seconds(30);
    const auto summary = import_cancelled_after(io, c, in, out, opts, f.server, 4);

    // The calls in flight completed as created; nothing was taken after the cancellation.
    BOOST_TEST_REQUIRE(summary.has_value());
    BOOST_TEST(!summary->finished);
    BOOST_TEST(summary->lines < 50u);
    BOOST_TEST(summary->done == summary->lines);
    BOOST_TEST(summary->created == summary->lines);
    BOOST_TEST(summary->unknown == 0u);
    BOOST_TEST(f.server.ledger().size() == summary->created);
    BOOST_TEST(lines_of(out.str()).size() == summary->lines);
}

BOOST_AUTO_TEST_SUITE_END()
