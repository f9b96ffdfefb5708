// The bulk importer against the mock server: outcomes per line, line numbers, the ledger.
#include "fixture.hpp"

#include <stackone/import.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>

#include <unistd.h>

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

std::string note_line(const std::string& candidate_id)
{
    return R"({"candidate_id":")" + candidate_id + R"(","key":")" + candidate_id +
           R"(","body":"x"})"
           "\n";
}

std::map<std::size_t, json::object> results_by_line(const std::string& out)
{
    std::map<std::size_t, json::object> by_line;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
    {
        auto r = json::parse(line).as_object();
        const auto n = static_cast<std::size_t>(r.at("line").as_int64());
        BOOST_TEST(by_line.emplace(n, std::move(r)).second, "two results for line " << n);
    }
    return by_line;
}

// A pipe whose write end the test holds: while it stays open and nothing is written, the
// importer's input stalls.
class test_pipe
{
public:
    test_pipe()
    {
        int fds[2];
        BOOST_TEST_REQUIRE(::pipe(fds) == 0);
        read_end_ = fds[0];
        write_end_ = fds[1];
    }
    ~test_pipe()
    {
        close_write_end();
        ::close(read_end_);
    }
    test_pipe(const test_pipe&) = delete;
    test_pipe& operator=(const test_pipe&) = delete;

    int read_end() const { return read_end_; }

    void write(std::string_view text)
    {
        while (!text.empty())
        {
            const auto n = ::write(write_end_, text.data(), text.size());
            BOOST_TEST_REQUIRE(n > 0);
            text.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    void close_write_end()
    {
        std::lock_guard lock(mutex_);
        if (write_end_ >= 0)
            ::close(write_end_);
        write_end_ = -1;
    }

private:
    std::mutex mutex_;
    int read_end_ = -1;
    int write_end_ = -1;
};

// Calls @p on_timeout on a thread of its own if not dismissed within @p limit: a guard against
// a test hanging on an importer that blocks its executor (which would hold up a timer too).
class watchdog
{
public:
    watchdog(std::chrono::seconds limit, std::function<void()> on_timeout)
        : thread_([this, limit, on_timeout = std::move(on_timeout)] {
              std::unique_lock lock(mutex_);
              if (!wake_.wait_for(lock, limit, [this] { return dismissed_; }))
              {
                  fired_ = true;
                  on_timeout();
              }
          })
    {}
    ~watchdog()
    {
        dismiss();
        thread_.join();
    }

    void dismiss()
    {
        {
            std::lock_guard lock(mutex_);
            dismissed_ = true;
        }
        wake_.notify_all();
    }

    bool fired()
    {
        std::lock_guard lock(mutex_);
        return fired_;
    }

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool dismissed_ = false;
    bool fired_ = false;
    std::thread thread_;
};

// Where the reads of a stalling_buffer wait once its text is served, until the test opens
// it. Shared by the test and the stream, so that it can tell what a reader the import left
// behind is doing: waiting here, or done with the stream (destroyed by its last owner).
class read_gate
{
public:
    void open()
    {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        wake_.notify_all();
    }

    // A read: waits until the gate is open.
    void pass()
    {
        std::unique_lock lock(mutex_);
        waiting_ = true;
        wake_.wait(lock, [this] { return open_; });
        waiting_ = false;
    }

    bool waiting()
    {
        std::lock_guard lock(mutex_);
        return waiting_;
    }

    void mark_destroyed()
    {
        {
            std::lock_guard lock(mutex_);
            destroyed_ = true;
        }
        wake_.notify_all();
    }

    bool destroyed()
    {
        std::lock_guard lock(mutex_);
        return destroyed_;
    }

    // True once the stream is destroyed; false after @p limit (a guard, not a delay).
    bool wait_destroyed(std::chrono::seconds limit)
    {
        std::unique_lock lock(mutex_);
        return wake_.wait_for(lock, limit, [this] { return destroyed_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool open_ = false;
    bool waiting_ = false;
    bool destroyed_ = false;
};

// A stream buffer that serves its text, then stalls in underflow() until released, then ends:
// a std::istream over a source that stops sending.
class stalling_buffer : public std::streambuf
{
public:
    explicit stalling_buffer(std::string text,
                             std::shared_ptr<read_gate> gate = std::make_shared<read_gate>())
        : text_(std::move(text)), gate_(std::move(gate))
    {
        setg(text_.data(), text_.data(), text_.data() + text_.size());
    }

    void release() { gate_->open(); }

protected:
    int_type underflow() override
    {
        gate_->pass();
        return traits_type::eof();
    }

private:
    std::string text_;
    std::shared_ptr<read_gate> gate_;
};

// A std::istream over its own stalling_buffer, for run_import to own a share of; its
// destruction is marked on the gate.
class stalling_stream : public std::istream
{
public:
    stalling_stream(std::string text, std::shared_ptr<read_gate> gate)
        : std::istream(nullptr), buffer_(std::move(text), gate), gate_(std::move(gate))
    {
        rdbuf(&buffer_);
    }
    ~stalling_stream() override { gate_->mark_destroyed(); }

private:
    stalling_buffer buffer_;
    std::shared_ptr<read_gate> gate_;
};

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

BOOST_AUTO_TEST_CASE(a_results_stream_that_fails_stops_the_import)
{
    // An output that takes nothing, like a full disk or a closed pipe.
    struct full_buffer : std::streambuf
    {
        int_type overflow(int_type) override { return traits_type::eof(); }
        std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
    } full;
    std::ostream out(&full);

    mock_fixture f;
    std::string input;
    for (int i = 1; i <= 100; ++i)
        input += note_line("c-" + std::to_string(i));
    asio::io_context io;
    client c(io, f.client_opts());
    std::istringstream in(input);
    import_options opts;
    opts.concurrency = 2;
    const auto summary =
        run_coroutine<import_summary>(io, [&]() { return run_import(c, in, out, opts); });

    // The lines taken before the first result was due were sent; no line after.
    BOOST_TEST(summary.error == "cannot write results");
    BOOST_TEST(!summary.finished);
    BOOST_TEST(summary.lines <= 2u);
    BOOST_TEST(summary.done == summary.lines);
    BOOST_TEST(f.server.get_stats().requests == summary.lines);
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

BOOST_AUTO_TEST_CASE(a_stalled_pipe_holds_up_neither_the_calls_nor_a_stop)
{
    // Five quick lines and one whose answer takes 20 s; then the pipe stalls (open, silent).
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": "^slow", "steps": [{"status": 201, "delay_ms": 20000, "times": 0}]}]})"});
    test_pipe input;
    for (int i = 1; i <= 5; ++i)
        input.write(note_line("c-" + std::to_string(i)));
    input.write(note_line("slow-6"));
    watchdog guard(std::chrono::seconds(60), [&] { input.close_write_end(); });

    asio::io_context io;
    client c(io, f.client_opts());
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 4;
    opts.cancel_grace = std::chrono::milliseconds(300);
    opts.progress_interval = std::chrono::milliseconds(10);

    // Once the quick lines have their results (written while the input stalls) and the slow
    // one is in flight, the import is stopped.
    using clock = std::chrono::steady_clock;
    asio::cancellation_signal stop;
    std::optional<clock::time_point> stopped_at;
    std::string results_when_stopped;
    opts.on_progress = [&](const import_summary& s) {
        if (stopped_at || s.done != 5 || s.in_flight != 1)
            return;
        stopped_at = clock::now();
        results_when_stopped = out.str();
        asio::post(io, [&] { stop.emit(asio::cancellation_type::terminal); });
    };
    std::optional<import_summary> summary;
    std::optional<clock::time_point> ended_at;
    asio::co_spawn(
        io,
        run_import(c, input.read_end(), out, opts),
        asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, import_summary s) {
            BOOST_TEST(!e);
            summary = s;
            ended_at = clock::now();
        }));
    io.run();
    guard.dismiss();

    BOOST_TEST_REQUIRE(!guard.fired(), "the import never saw its results while the pipe stalled");
    BOOST_TEST_REQUIRE(stopped_at.has_value());
    BOOST_TEST_REQUIRE(summary.has_value());
    BOOST_TEST(results_by_line(results_when_stopped).size() == 5u);

    // The stop ended it within the grace and a margin, though the reader sat in a read.
    const auto took = *ended_at - *stopped_at;
    BOOST_TEST(took < opts.cancel_grace + std::chrono::seconds(5),
               std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    BOOST_TEST(!summary->finished);
    BOOST_TEST(summary->lines == 6u);
    BOOST_TEST(summary->done == 6u);
    BOOST_TEST(summary->created == 5u);
    BOOST_TEST(summary->unknown == 1u);

    // Every line taken has one result; the slow one may exist, so it is unknown.
    const auto by_line = results_by_line(out.str());
    BOOST_TEST(by_line.size() == 6u);
    for (std::size_t line = 1; line <= 5; ++line)
        BOOST_TEST(by_line.at(line).at("outcome") == "created");
    BOOST_TEST(by_line.at(6).at("outcome") == "unknown");
    BOOST_TEST(by_line.at(6).at("key") == "slow-6");
    BOOST_TEST(f.server.ledger().size() == 5u);
}

BOOST_AUTO_TEST_CASE(a_stalled_stream_holds_up_no_call)
{
    mock_fixture f;
    stalling_buffer buffer(note_line("c-1") + note_line("c-2") + note_line("c-3"));
    std::istream in(&buffer);
    watchdog guard(std::chrono::seconds(60), [&] { buffer.release(); });

    asio::io_context io;
    client c(io, f.client_opts());
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 2;
    opts.progress_interval = std::chrono::milliseconds(10);

    // The three lines get their results while the stream stalls; then it ends.
    bool released = false;
    opts.on_progress = [&](const import_summary& s) {
        if (!released && s.done == 3)
        {
            released = true;
            buffer.release();
        }
    };
    const auto summary =
        run_coroutine<import_summary>(io, [&] { return run_import(c, in, out, opts); });
    guard.dismiss();

    BOOST_TEST_REQUIRE(!guard.fired(), "no result was written while the stream stalled");
    BOOST_TEST(released);
    BOOST_TEST(summary.finished);
    BOOST_TEST(summary.lines == 3u);
    BOOST_TEST(summary.created == 3u);
    BOOST_TEST(results_by_line(out.str()).size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_stop_does_not_wait_for_a_blocked_read_of_a_shared_stream)
{
    // Three quick lines and one whose answer takes 20 s; then the stream stalls in a read that
    // only the end of the test lets return.
    mock_fixture f(mock_setup{.scenario = R"({"rules": [
        {"candidate_id": "^slow", "steps": [{"status": 201, "delay_ms": 20000, "times": 0}]}]})"});
    auto gate = std::make_shared<read_gate>();
    auto in = std::make_shared<stalling_stream>(
        note_line("c-1") + note_line("c-2") + note_line("c-3") + note_line("slow-4"), gate);
    // An import that waited for the read would end only through this.
    watchdog guard(std::chrono::seconds(30), [gate] { gate->open(); });

    using clock = std::chrono::steady_clock;
    const auto grace = std::chrono::milliseconds(300);
    std::ostringstream out;
    std::optional<import_summary> summary;
    std::optional<clock::time_point> stopped_at;
    std::optional<clock::time_point> ended_at;
    bool read_blocked_at_end = false;
    bool stream_held_at_end = false;
    {
        asio::io_context io;
        client c(io, f.client_opts());
        import_options opts;
        opts.concurrency = 4;
        opts.cancel_grace = grace;
        opts.progress_interval = std::chrono::milliseconds(10);

        // Stopped once the quick lines have their results, the slow one is in flight and the
        // reader waits in a read of the stream.
        asio::cancellation_signal stop;
        opts.on_progress = [&](const import_summary& s) {
            if (stopped_at || s.done != 3 || s.in_flight != 1 || !gate->waiting())
                return;
            stopped_at = clock::now();
            asio::post(io, [&] { stop.emit(asio::cancellation_type::terminal); });
        };
        asio::co_spawn(
            io,
            run_import(c, std::move(in), out, opts),
            asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, import_summary s) {
                BOOST_TEST(!e);
                summary = s;
                ended_at = clock::now();
                read_blocked_at_end = gate->waiting();
                stream_held_at_end = !gate->destroyed();
            }));
        io.run();

        // The client and the io_context go here, the reader still in its read: it must touch
        // neither (the sanitizer builds would see it).
    }
    guard.dismiss();

    BOOST_TEST_REQUIRE(!guard.fired(), "the import waited for the blocked read");
    BOOST_TEST_REQUIRE(stopped_at.has_value());
    BOOST_TEST_REQUIRE(summary.has_value());
    BOOST_TEST(read_blocked_at_end, "the read had returned before the import completed");
    BOOST_TEST(stream_held_at_end);

    // The stop ended it within the grace and a margin, though the reader sat in a read.
    const auto took = *ended_at - *stopped_at;
    BOOST_TEST(took < grace + std::chrono::seconds(5),
               std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");

    // Every line taken has one result; the slow one may exist, so it is unknown.
    BOOST_TEST(!summary->finished);
    BOOST_TEST(summary->lines == 4u);
    BOOST_TEST(summary->done == 4u);
    BOOST_TEST(summary->created == 3u);
    BOOST_TEST(summary->unknown == 1u);
    const auto by_line = results_by_line(out.str());
    BOOST_TEST(by_line.size() == 4u);
    for (std::size_t line = 1; line <= 3; ++line)
        BOOST_TEST(by_line.at(line).at("outcome") == "created");
    BOOST_TEST(by_line.at(4).at("outcome") == "unknown");
    BOOST_TEST(f.server.ledger().size() == 3u);

    // Let go at last, the reader left behind ends its read and its share of the stream.
    gate->open();
    BOOST_TEST(gate->wait_destroyed(std::chrono::seconds(30)),
               "the reader left behind never let go of the stream");
}

BOOST_AUTO_TEST_CASE(a_shared_stream_read_to_its_end_is_the_callers_again)
{
    // Read to its end, the stream's reader is joined: the caller's share is the last one.
    mock_fixture f;
    auto gate = std::make_shared<read_gate>();
    gate->open();
    auto in = std::make_shared<stalling_stream>(note_line("c-1") + note_line("c-2"), gate);
    asio::io_context io;
    client c(io, f.client_opts());
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 2;
    const auto summary =
        run_coroutine<import_summary>(io, [&] { return run_import(c, in, out, opts); });

    BOOST_TEST(summary.finished);
    BOOST_TEST(summary.created == 2u);
    BOOST_TEST(in.use_count() == 1);
    BOOST_TEST(!gate->destroyed());
    BOOST_TEST(in->eof());
}

BOOST_AUTO_TEST_CASE(a_null_shared_stream_is_refused)
{
    mock_fixture f;
    asio::io_context io;
    client c(io, f.client_opts());
    std::ostringstream out;
    BOOST_CHECK_THROW(run_import(c, std::shared_ptr<std::istream>(), out, import_options{}),
                      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_pipe_gives_the_same_lines_as_a_stream)
{
    // Line ends split across writes, CRLF, blank lines, an overlong line, no final newline.
    mock_fixture f;
    const std::string long_body(3000, 'a');
    const std::vector<std::string> pieces = {
        note_line("p-1"),
        "\n",
        R"({"candidate_id":"p-3","body":"x"})",
        "\r",
        "\n",
        R"({"candidate_id":"p-4","body":")" + long_body + "\"}\n",
        "  \r\n",
        R"({"candidate_id":"p-6","body":"y"})",
    };
    test_pipe input;
    asio::io_context io;
    client c(io, f.client_opts());
    std::ostringstream out;
    import_options opts;
    opts.concurrency = 3;
    opts.max_line_bytes = 2000;

    // Written in pieces from a thread of its own, the last one without a newline, then closed.
    std::thread writer([&] {
        for (const auto& p : pieces)
            input.write(p);
        input.close_write_end();
    });
    const auto summary = run_coroutine<import_summary>(
        io, [&] { return run_import(c, input.read_end(), out, opts); });
    writer.join();

    BOOST_TEST(summary.finished);
    BOOST_TEST(summary.lines == 6u);
    BOOST_TEST(summary.blank == 2u);
    BOOST_TEST(summary.created == 3u);
    BOOST_TEST(summary.rejected == 1u);
    const auto by_line = results_by_line(out.str());
    BOOST_TEST(by_line.size() == 4u);
    BOOST_TEST(by_line.at(1).at("outcome") == "created");
    BOOST_TEST(by_line.at(3).at("outcome") == "created");
    BOOST_TEST(by_line.at(4).at("outcome") == "rejected");
    BOOST_TEST(by_line.at(6).at("outcome") == "created");
    BOOST_TEST(std::string(by_line.at(4).at("error").as_string()).find("longer than 2000") !=
               std::string::npos);

    // The same bytes through a std::istream give the same lines.
    std::string all;
    for (const auto& p : pieces)
        all += p;
    std::istringstream same(all);
    std::ostringstream out2;
    const auto again =
        run_coroutine<import_summary>(io, [&] { return run_import(c, same, out2, opts); });
    BOOST_TEST(again.lines == summary.lines);
    BOOST_TEST(again.blank == summary.blank);
    BOOST_TEST(again.rejected == summary.rejected);
    BOOST_TEST(results_by_line(out2.str()).size() == 4u);
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
