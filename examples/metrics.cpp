//
// Watches a client three ways while it creates a few notes: the per-attempt observer (what a
// Prometheus or OpenTelemetry exporter is built on), the logger, and the pool's counters.
//
// Usage: metrics [COUNT]
// Environment: STACKONE_API_KEY and STACKONE_ACCOUNT_ID (required), STACKONE_BASE_URL (default
// https://api.stackone.com), STACKONE_CA_FILE (optional PEM file of extra trusted CAs).
//
#include "example_env.hpp"

#include <stackone/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace asio = boost::asio;

namespace {

// What an exporter would keep: counts by status and a latency sum. The observer runs on the
// client's executor, one call at a time, so plain members are enough here.
struct attempt_metrics
{
    std::size_t attempts = 0;
    std::size_t retries_scheduled = 0;
    std::size_t reused = 0;
    std::chrono::steady_clock::duration latency_sum{};

    void record(const stackone::attempt_event& ev)
    {
        ++attempts;
        retries_scheduled += ev.will_retry ? 1 : 0;
        reused += ev.connection_reused ? 1 : 0;
        latency_sum += ev.latency;
        const auto ms = std::chrono::duration<double, std::milli>(ev.latency).count();
        std::cout << "attempt " << ev.attempt << " for " << ev.candidate_id << ": status "
                  << ev.status << (ev.ec ? " (" + ev.ec.message() + ")" : std::string()) << ", "
                  << ms << " ms, "
                  << (ev.connection_reused ? "reused connection" : "new connection");
        if (ev.heartbeat_bytes > 0)
            std::cout << ", " << ev.heartbeat_bytes << " heartbeat bytes";
        if (ev.will_retry)
            std::cout << ", retry in " << ev.retry_delay.count() << " ms";
        std::cout << '\n';
    }
};

asio::awaitable<int> create_some(stackone::client& client, int count)
{
    int failures = 0;
    for (int i = 1; i <= count; ++i)
    {
        // Each call is timed here, around the whole call with its retries.
        const std::string candidate_id = "cand-metrics-" + std::to_string(i);
        const auto started = std::chrono::steady_clock::now();
        try
        {
            stackone::create_result result = co_await client.create_candidate_note(
                candidate_id, stackone::note::from_text("Note " + std::to_string(i)));
            const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);
            std::cout << "created note " << result.id.value_or("(no id)") << " on " << candidate_id
                      << " in " << took.count() << " ms, " << result.diag.attempts
                      << " attempt(s)\n";
        }
        catch (const stackone::error& e)
        {
            std::cout << "failed on " << candidate_id << ": " << e.what() << '\n';
            ++failures;
        }
    }

    // The pool counters show whether keep-alive worked: one connection, reused.
    const stackone::pool_stats s = client.stats();
    std::cout << "pool: opened " << s.connections_opened << ", reused " << s.connections_reused
              << ", open " << s.open << ", idle " << s.idle << '\n';
    co_return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    // Key, account, base URL and CA file come from the environment (example_env.hpp).
    auto env_options = example::options_from_env();
    if (!env_options)
    {
        return 2;
    }
    stackone::client_options options = std::move(*env_options);
    const int count = argc > 1 ? std::atoi(argv[1]) : 3;

    // One event per attempt, retries included.
    attempt_metrics metrics;
    options.on_attempt = [&metrics](const stackone::attempt_event& ev) { metrics.record(ev); };

    // The logger is a value in the options: a level and a sink. Records below the level are
    // never formatted, and none ever contains the API key. The sink runs on the I/O thread.
    options.log.level = stackone::log_level::debug;
    options.log.sink = [](stackone::log_level level, std::string_view text) {
        std::cout << "[stackone " << stackone::to_string(level) << "] " << text << '\n';
    };

    try
    {
        // One io_context runs the client; the coroutine's result becomes the exit status.
        asio::io_context io;
        stackone::client client(io, std::move(options));
        int exit_status = 1;
        asio::co_spawn(io, create_some(client, count), [&](std::exception_ptr ep, int status) {
            if (ep)
                std::rethrow_exception(ep);
            exit_status = status;
        });
        io.run();
        const auto mean =
            metrics.attempts == 0
                ? 0.0
                : std::chrono::duration<double, std::milli>(metrics.latency_sum).count() /
                      static_cast<double>(metrics.attempts);
        std::cout << "attempts: " << metrics.attempts << ", retries scheduled "
                  << metrics.retries_scheduled << ", on reused connections " << metrics.reused
                  << ", mean latency " << mean << " ms\n";
        return exit_status;
    }
    catch (const std::exception& e)
    {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}
