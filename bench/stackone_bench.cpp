//
// Copyright (c) 2026 The stackone-notes-cpp authors
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

// stackone-bench: creates N candidate notes with C calls in flight, against a URL or against an
// in-process mock server, and prints one JSON object: throughput, latency percentiles, client
// CPU per 1000 notes, peak memory and the pool counters.
//
// The method (what is measured, what CPU is counted, how to compare with wrk) is in
// bench/README.md. Errors are counted and never stop the run; the first few go to stderr.

#include <stackone/client.hpp>
#include <stackone/error.hpp>
#include <stackone/note.hpp>
#include <stackone/options.hpp>

#include "mock_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using steady_clock = std::chrono::steady_clock;

// Key of the in-process mock when STACKONE_API_KEY is not set (the mock's own default).
constexpr const char* mock_api_key = "sk_test_mock";

// Error messages printed to stderr; the rest are only counted.
constexpr std::size_t errors_shown = 5;

/// Everything the command line sets.
struct bench_config
{
    std::string url;
    bool tls = false;
    std::string certs_dir = STACKONE_BENCH_CERTS_DIR;
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    std::size_t notes = 10000;
    std::size_t concurrency = 64;
    std::size_t connections = 0; // 0: as many as concurrency
    std::optional<std::size_t> warmup;
    bool heartbeat = false;
    unsigned heartbeats = 0;
    unsigned mock_threads = 1;
    std::string account_id = "acc-bench";
    std::string candidate_id = "cand-bench-0001";
    std::size_t body_bytes = 200;
    std::string user_agent;
    int max_attempts = 1;
    long attempt_timeout_ms = 30000;
    int client_cpu = -1;
    int mock_cpu = -1;
    bool print_body = false;
};

/// User and system CPU time, in microseconds.
struct cpu_time
{
    std::int64_t user_us = 0;
    std::int64_t sys_us = 0;

    std::int64_t total_us() const noexcept { return user_us + sys_us; }
};

cpu_time operator-(const cpu_time& a, const cpu_time& b) noexcept
{
    return {a.user_us - b.user_us, a.sys_us - b.sys_us};
}

std::int64_t to_us(const timeval& tv) noexcept
{
    return static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

// RUSAGE_THREAD counts the calling thread only, so the in-process mock's threads (and Asio's
// resolver thread) are not charged to the client.
cpu_time cpu_now(int who)
{
    rusage ru{};
    ::getrusage(who, &ru);
    return {to_us(ru.ru_utime), to_us(ru.ru_stime)};
}

/// The shared state of one phase (warm-up or measured): C workers take note indexes from it.
struct phase_state
{
    const std::string* candidate_id = nullptr;
    const stackone::note* note = nullptr;
    stackone::call_options call;

    std::size_t total = 0;
    std::size_t next = 0;
    std::vector<std::int64_t> latency_ns;
    std::size_t errors = 0;
    std::size_t* errors_printed = nullptr;

    // Evidence that heartbeats were really received and skipped.
    std::uint64_t heartbeat_bytes = 0;
    std::uint64_t heartbeat_applied = 0;
};

/// What a phase measured.
struct phase_result
{
    std::vector<std::int64_t> latency_ns;
    std::size_t errors = 0;
    std::uint64_t heartbeat_bytes = 0;
    std::uint64_t heartbeat_applied = 0;
    std::chrono::nanoseconds elapsed{0};
    cpu_time client_cpu;
    cpu_time process_cpu;
};

void report_error(phase_state& st, const std::string& text)
{
    ++st.errors;
    if (*st.errors_printed < errors_shown)
    {
        ++*st.errors_printed;
        std::cerr << "stackone-bench: error: " << text << '\n';
    }
}

std::string describe(const stackone::error_code& ec, const stackone::create_result& r)
{
    std::string text = ec.message();
    if (r.diag.http_status != 0)
        text += " (HTTP " + std::to_string(r.diag.http_status) + ")";
    if (!r.diag.message.empty())
        text += ": " + r.diag.message;
    if (!r.diag.detail.empty())
        text += " [" + r.diag.detail + "]";
    return text;
}

// One of the C callers: creates notes one after another until the phase has handed out all.
asio::awaitable<void> create_notes(stackone::client& client, phase_state& st)
{
    while (st.next < st.total)
    {
        const std::size_t index = st.next++;
        const auto start = steady_clock::now();

        // The error-code form: a failed call is counted, not thrown. No structured bindings:
        // g++ 12 mishandles them in coroutines.
        std::tuple<stackone::error_code, stackone::create_result> outcome =
            co_await client.async_create_candidate_note(
                *st.candidate_id, *st.note, st.call, asio::as_tuple(asio::use_awaitable));
        st.latency_ns[index] = (steady_clock::now() - start).count();

        const stackone::create_result& result = std::get<1>(outcome);
        if (std::get<0>(outcome))
            report_error(st, describe(std::get<0>(outcome), result));
        st.heartbeat_bytes += result.heartbeat_bytes;
        st.heartbeat_applied += result.heartbeat_applied ? 1 : 0;
    }
}

// Runs @p total notes with @p concurrency callers and waits until the last one is done.
asio::awaitable<phase_result> run_phase(stackone::client& client,
                                        const bench_config& cfg,
                                        const stackone::note& note,
                                        std::size_t total,
                                        std::size_t& errors_printed)
{
    auto ex = co_await asio::this_coro::executor;

    phase_state st;
    st.candidate_id = &cfg.candidate_id;
    st.note = &note;
    st.total = total;
    // Preallocated, so recording a latency never allocates during the run.
    st.latency_ns.assign(total, 0);
    st.errors_printed = &errors_printed;

    const auto cpu_client_start = cpu_now(RUSAGE_THREAD);
    const auto cpu_process_start = cpu_now(RUSAGE_SELF);
    const auto start = steady_clock::now();

    // The last worker to finish cancels the timer; the loop re-checks, so a cancel that comes
    // before the wait cannot be lost.
    asio::steady_timer all_done(ex, steady_clock::time_point::max());
    std::size_t running = std::min(cfg.concurrency, total);
    const std::size_t workers = running;
    for (std::size_t i = 0; i < workers; ++i)
    {
        asio::co_spawn(ex, create_notes(client, st), [&](std::exception_ptr ep) {
            if (ep)
            {
                try
                {
                    std::rethrow_exception(ep);
                }
                catch (const std::exception& e)
                {
                    report_error(st, std::string("worker stopped: ") + e.what());
                }
            }
            if (--running == 0)
                all_done.cancel();
        });
    }
    while (running > 0)
        co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));

    phase_result r;
    r.elapsed = steady_clock::now() - start;
    r.client_cpu = cpu_now(RUSAGE_THREAD) - cpu_client_start;
    r.process_cpu = cpu_now(RUSAGE_SELF) - cpu_process_start;
    r.errors = st.errors;
    r.heartbeat_bytes = st.heartbeat_bytes;
    r.heartbeat_applied = st.heartbeat_applied;
    r.latency_ns = std::move(st.latency_ns);
    co_return r;
}

/// Warm-up and measured phases, and the pool counters after them.
struct bench_outcome
{
    phase_result warmup;
    phase_result measured;
    stackone::pool_stats pool;
};

asio::awaitable<void> run_bench(std::optional<stackone::client>& client,
                                const bench_config& cfg,
                                const stackone::note& note,
                                bench_outcome& out)
{
    std::size_t errors_printed = 0;

    // Warm-up opens the pool's connections and warms caches and allocators; not measured.
    const std::size_t warmup = cfg.warmup.value_or(std::min<std::size_t>(1000, cfg.notes / 10));
    if (warmup > 0)
        out.warmup = co_await run_phase(*client, cfg, note, warmup, errors_printed);

    out.measured = co_await run_phase(*client, cfg, note, cfg.notes, errors_printed);
    out.pool = client->stats();

    // Closes the idle connections, so io_context::run() returns.
    client.reset();
}

/// A note whose one content item is @p bytes of printable text (JSON-safe, no escapes).
stackone::note make_note(std::size_t bytes)
{
    static constexpr std::string_view sentence =
        "Strong phone screen; follow up on system design and references. ";
    std::string text;
    text.reserve(bytes);
    while (text.size() < bytes)
        text.append(sentence.substr(0, std::min(sentence.size(), bytes - text.size())));
    return stackone::note::from_text(std::move(text));
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
double percentile_ms(const std::vector<std::int64_t>& sorted, double p)
{
    if (sorted.empty())
        return 0.0;
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return static_cast<double>(sorted[rank - 1]) / 1e6;
}

// Pins the calling thread to one CPU; threads it creates afterwards inherit the mask.
void pin_current_thread(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set); rc != 0)
        throw std::runtime_error("cannot pin a thread to CPU " + std::to_string(cpu));
}

// Makes the test PKI with scripts/make-test-certs when a file of it is missing.
void ensure_certs(const std::string& dir)
{
    namespace fs = std::filesystem;
    if (fs::exists(fs::path(dir) / "ca.pem") && fs::exists(fs::path(dir) / "server.pem") &&
        fs::exists(fs::path(dir) / "server.key"))
        return;

    std::string script = STACKONE_BENCH_MAKE_CERTS;
    std::string out_dir = dir;
    char* argv[] = {script.data(), out_dir.data(), nullptr};
    // The script's progress goes to stderr: stdout carries only the JSON result.
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, script.c_str(), &actions, nullptr, argv, environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw std::runtime_error("cannot run " + script);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(script + " failed for " + dir);
}

// The in-process mock's scenario for --heartbeats K: every request gets K heartbeats first.
json::value heartbeat_scenario(unsigned count)
{
    json::object heartbeats{{"count", count}, {"interval_ms", 0}};
    json::object step{{"heartbeats", std::move(heartbeats)}, {"times", 0}};
    json::object rule{{"candidate_id", ""}, {"steps", json::array{std::move(step)}}};
    return json::object{{"rules", json::array{std::move(rule)}}};
}

/**
 * @brief A flat JSON object written in insertion order.
 *
 * Numbers are plain decimals with a fixed number of places: Boost.JSON writes every double in
 * exponent form (`7.6306E3`), valid but hard to read in a terminal or a shell script.
 */
class json_report
{
public:
    void number(std::string_view key, double value, int decimals)
    {
        char text[64];
        std::snprintf(text, sizeof(text), "%.*f", decimals, std::isfinite(value) ? value : 0.0);
        raw(key, text);
    }

    void count(std::string_view key, std::uint64_t value) { raw(key, std::to_string(value)); }

    void flag(std::string_view key, bool value) { raw(key, value ? "true" : "false"); }

    void text(std::string_view key, std::string_view value)
    {
        raw(key, json::serialize(json::string(value)));
    }

    std::string str() const { return out_ + "}"; }

private:
    void raw(std::string_view key, std::string_view value)
    {
        out_ += out_.size() == 1 ? "" : ",";
        out_ += json::serialize(json::string(key));
        out_ += ':';
        out_ += value;
    }

    std::string out_ = "{";
};

// Sorts the measured latencies in place (a copy would be the largest allocation of a long run,
// and count in the peak RSS the report prints).
std::string summarize(const bench_config& cfg,
                      bench_outcome& out,
                      bool with_mock,
                      const std::optional<stackone::mock::stats>& mock_stats)
{
    const phase_result& m = out.measured;
    std::vector<std::int64_t>& sorted = out.measured.latency_ns;
    std::sort(sorted.begin(), sorted.end());

    const double seconds = std::chrono::duration<double>(m.elapsed).count();
    const double notes = static_cast<double>(cfg.notes);
    auto ms_per_1k = [&](std::int64_t us) { return static_cast<double>(us) / notes; };
    double mean_ns = 0;
    for (const auto v : sorted)
        mean_ns += static_cast<double>(v) / notes;

    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);

    json_report r;
    r.text("tool", "stackone-bench");
    r.text("target", with_mock ? "mock" : "url");
    r.count("notes", cfg.notes);
    r.count("concurrency", cfg.concurrency);
    r.count("connections", cfg.connections);
    r.flag("tls", cfg.url.rfind("https://", 0) == 0);
    r.flag("heartbeat", cfg.heartbeat);
    r.count("heartbeats", cfg.heartbeats);
    r.count("heartbeat_bytes", m.heartbeat_bytes);
    r.count("heartbeat_applied", m.heartbeat_applied);
    r.count("body_bytes", cfg.body_bytes);
    r.count("warmup", out.warmup.latency_ns.size());
    r.number("elapsed_s", seconds, 4);
    r.number("notes_per_s", notes / seconds, 1);
    r.number("mean_ms", mean_ns / 1e6, 4);
    r.number("p50_ms", percentile_ms(sorted, 0.50), 4);
    r.number("p90_ms", percentile_ms(sorted, 0.90), 4);
    r.number("p99_ms", percentile_ms(sorted, 0.99), 4);
    r.number("p999_ms", percentile_ms(sorted, 0.999), 4);
    r.number("max_ms", sorted.empty() ? 0.0 : static_cast<double>(sorted.back()) / 1e6, 4);
    r.number("cpu_ms_per_1k", ms_per_1k(m.client_cpu.total_us()), 3);
    r.number("cpu_user_ms_per_1k", ms_per_1k(m.client_cpu.user_us), 3);
    r.number("cpu_sys_ms_per_1k", ms_per_1k(m.client_cpu.sys_us), 3);
    r.number("process_cpu_ms_per_1k", ms_per_1k(m.process_cpu.total_us()), 3);
    if (with_mock)
    {
        // Every other thread of the process is the mock's (plus Asio's resolver thread, which
        // works only while a connection is being opened).
        r.number("mock_cpu_ms_per_1k", ms_per_1k((m.process_cpu - m.client_cpu).total_us()), 3);
        r.count("mock_threads", cfg.mock_threads);
    }
    // ru_maxrss is in KiB on Linux; with the in-process mock it includes the mock.
    r.number("peak_rss_mb", static_cast<double>(self.ru_maxrss) / 1024.0, 1);
    r.count("connections_opened", out.pool.connections_opened);
    r.count("connections_reused", out.pool.connections_reused);
    r.count("full_handshakes", out.pool.full_handshakes);
    r.count("resumed_handshakes", out.pool.resumed_handshakes);
    r.count("errors", m.errors);
    r.count("warmup_errors", out.warmup.errors);
    if (mock_stats)
    {
        r.count("mock_requests", mock_stats->requests);
        r.count("mock_created", mock_stats->created);
        r.count("mock_connections_accepted", mock_stats->connections_accepted);
    }
    return r.str();
}

int run(const bench_config& given)
{
    bench_config cfg = given;
    if (cfg.connections == 0)
        cfg.connections = cfg.concurrency;

    const stackone::note note = make_note(cfg.body_bytes);
    if (cfg.print_body)
    {
        // The exact JSON body the client sends, so other tools can send the same bytes.
        std::string body;
        stackone::serialize_note(note, body);
        std::cout << body << '\n';
        return 0;
    }

    const bool with_mock = cfg.url.empty();
    const char* env_key = std::getenv("STACKONE_API_KEY");
    std::string api_key = env_key != nullptr ? env_key : "";
    if (api_key.empty())
    {
        if (!with_mock)
        {
            std::cerr << "stackone-bench: set STACKONE_API_KEY for --url\n";
            return 2;
        }
        api_key = mock_api_key;
    }

    // The mock runs on its own threads; with --mock-cpu they inherit this thread's mask, set
    // just before they are created.
    std::optional<stackone::mock::server> mock;
    if (with_mock)
    {
        stackone::mock::server_options mo;
        mo.api_key = api_key;
        mo.ledger_in_memory = false;
        mo.threads = cfg.mock_threads;
        mo.tls = cfg.tls;
        if (cfg.tls)
        {
            if (cfg.cert_file.empty() || cfg.key_file.empty() || cfg.ca_file.empty())
                ensure_certs(cfg.certs_dir);
            if (cfg.cert_file.empty())
                cfg.cert_file = cfg.certs_dir + "/server.pem";
            if (cfg.key_file.empty())
                cfg.key_file = cfg.certs_dir + "/server.key";
            if (cfg.ca_file.empty())
                cfg.ca_file = cfg.certs_dir + "/ca.pem";
            mo.cert_file = cfg.cert_file;
            mo.key_file = cfg.key_file;
        }
        if (cfg.heartbeats > 0)
            mo.scenario = heartbeat_scenario(cfg.heartbeats);
        if (cfg.mock_cpu >= 0)
            pin_current_thread(cfg.mock_cpu);
        try
        {
            mock.emplace(std::move(mo));
        }
        catch (const std::exception& e)
        {
            if (cfg.heartbeats > 0)
                std::cerr << "stackone-bench: the mock refused the --heartbeats scenario (does "
                             "this mock support heartbeat steps yet?)\n";
            throw;
        }
        mock->start();
        cfg.url = mock->base_url();
    }
    if (cfg.client_cpu >= 0)
        pin_current_thread(cfg.client_cpu);

    stackone::client_options opts;
    // The client runs on one thread here: no strand needed.
    opts.thread_safe = false;
    opts.base_url = cfg.url;
    opts.api_key = api_key;
    opts.account_id = cfg.account_id;
    opts.user_agent = cfg.user_agent;
    opts.heartbeat = cfg.heartbeat;
    opts.pool.max_connections = cfg.connections;
    opts.tls.ca_file = cfg.ca_file;
    opts.retry.max_attempts = cfg.max_attempts;
    opts.retry.attempt_timeout = std::chrono::milliseconds(cfg.attempt_timeout_ms);

    // One thread, concurrency hint 1: the client's work is all on this thread.
    asio::io_context io(1);
    std::optional<stackone::client> client;
    client.emplace(io, std::move(opts));

    bench_outcome outcome;
    std::exception_ptr failure;
    asio::co_spawn(
        io, run_bench(client, cfg, note, outcome), [&](std::exception_ptr ep) { failure = ep; });
    io.run();
    if (failure)
        std::rethrow_exception(failure);

    std::optional<stackone::mock::stats> mock_stats;
    if (mock)
    {
        mock_stats = mock->get_stats();
        mock->stop();
    }

    std::cout << summarize(cfg, outcome, with_mock, mock_stats) << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    bench_config cfg;
    CLI::App app{"Creates candidate notes as fast as it can and prints one JSON object of "
                 "throughput, latency, CPU and memory",
                 "stackone-bench"};

    auto* url = app.add_option("--url", cfg.url, "Base URL of a server (default: in-process mock)");
    bool use_mock = false;
    auto* mock = app.add_flag("--mock", use_mock, "Use the in-process mock server (the default)");
    auto* tls = app.add_flag("--tls", cfg.tls, "Make the in-process mock serve HTTPS");
    auto* certs = app.add_option("--certs",
                                 cfg.certs_dir,
                                 "Directory of the mock's test PKI (made with "
                                 "scripts/make-test-certs when missing)")
                      ->capture_default_str();
    auto* cert = app.add_option("--cert", cfg.cert_file, "The TLS mock's certificate (PEM)")
                     ->check(CLI::ExistingFile);
    auto* key = app.add_option("--key", cfg.key_file, "The TLS mock's private key (PEM)")
                    ->check(CLI::ExistingFile);
    app.add_option("--ca-file", cfg.ca_file, "Extra trusted CA (PEM) for https URLs")
        ->check(CLI::ExistingFile);
    app.add_option("--notes", cfg.notes, "Notes created in the measured run")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    app.add_option("--concurrency", cfg.concurrency, "Calls in flight")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
    app.add_option("--connections", cfg.connections, "Pool size (default: the concurrency)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
    app.add_option(
        "--warmup", cfg.warmup, "Notes before the measured run (default min(1000, N/10))");
    app.add_flag("--heartbeat", cfg.heartbeat, "Send `Prefer: heartbeat`");
    auto* heartbeats = app.add_option("--heartbeats",
                                      cfg.heartbeats,
                                      "Make the in-process mock send K heartbeats per request")
                           ->check(CLI::Range(0u, 100000u));
    auto* mock_threads =
        app.add_option("--mock-threads", cfg.mock_threads, "In-process mock threads")
            ->capture_default_str()
            ->check(CLI::Range(1u, 256u));
    app.add_option("--account-id", cfg.account_id, "`x-account-id`")->capture_default_str();
    app.add_option("--candidate-id", cfg.candidate_id, "Candidate id in the path")
        ->capture_default_str();
    app.add_option("--body-bytes", cfg.body_bytes, "Bytes of note text")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{512 * 1024}));
    app.add_option("--user-agent", cfg.user_agent, "User-Agent (default: the library's)");
    app.add_option("--max-attempts", cfg.max_attempts, "Attempts per note (1: no retries)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    app.add_option("--attempt-timeout-ms", cfg.attempt_timeout_ms, "Time limit of one attempt")
        ->capture_default_str()
        ->check(CLI::Range(1L, 3600000L));
    app.add_option("--client-cpu", cfg.client_cpu, "Pin the client thread to this CPU")
        ->check(CLI::NonNegativeNumber);
    auto* mock_cpu =
        app.add_option("--mock-cpu", cfg.mock_cpu, "Pin the mock's threads to this CPU")
            ->check(CLI::NonNegativeNumber);
    app.add_flag("--print-body", cfg.print_body, "Print the JSON body of each request and exit");

    // The mock's own options make no sense with --url.
    url->excludes(mock);
    for (auto* option : {tls, certs, cert, key, heartbeats, mock_threads, mock_cpu})
        option->excludes(url);

    try
    {
        app.parse(argc, argv);
    }
    catch (const CLI::ParseError& e)
    {
        // --help is an "error" with status 0; every other one is a usage error: 2.
        return app.exit(e) == 0 ? 0 : 2;
    }

    try
    {
        return run(cfg);
    }
    catch (const stackone::error& e)
    {
        // What the client refuses before sending anything (a bad --url) is a usage error too.
        if (e.code() == stackone::errc::invalid_base_url)
        {
            std::cerr << "stackone-bench: --url: " << e.diag().detail << '\n';
            return 2;
        }
        std::cerr << "stackone-bench: " << e.what() << '\n';
        return 1;
    }
    catch (const std::exception& e)
    {
        std::cerr << "stackone-bench: " << e.what() << '\n';
        return 1;
    }
}
