//
// Copyright (c) 2026 The stackone-notes-cpp authors
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

// stackone-mock: runs the mock StackOne "Create Candidate Note" server until SIGINT or SIGTERM.
//
// Exit status: 0 after a signal, 1 when the server cannot run (address in use, ledger or port
// file not writable), 2 for a wrong flag or a bad file named by a flag.

#include "mock_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/object.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include <unistd.h>

namespace {

/// Writes `port` and a newline to `path` so that a reader never sees a partial file: a
/// temporary file in the same directory, then rename(2), which replaces atomically.
void write_port_file(const std::string& path, unsigned short port)
{
    const std::string temporary = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << port << '\n';
        out.close();
        if (!out)
        {
            throw std::runtime_error("cannot write the port file '" + temporary + "'");
        }
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec)
    {
        std::filesystem::remove(temporary, ec);
        throw std::runtime_error("cannot rename the port file to '" + path + "'");
    }
}

std::string format_stats(const stackone::mock::stats& s)
{
    return "connections_accepted=" + std::to_string(s.connections_accepted) +
           " connections_open=" + std::to_string(s.connections_open) +
           " tls_handshakes_failed=" + std::to_string(s.tls_handshakes_failed) +
           " requests=" + std::to_string(s.requests) + " created=" + std::to_string(s.created) +
           " rejected=" + std::to_string(s.rejected) + " scripted=" + std::to_string(s.scripted) +
           " heartbeats_sent=" + std::to_string(s.heartbeats_sent) +
           " connections_closed_idle=" + std::to_string(s.connections_closed_idle) +
           " rate_limited=" + std::to_string(s.rate_limited);
}

} // namespace

int main(int argc, char** argv)
{
    namespace mock = stackone::mock;

    CLI::App app{"Mock StackOne server for POST /unified/ats/candidates/{id}/notes "
                 "(loopback only)",
                 "stackone-mock"};

    mock::server_options options;
    int port = 0;
    std::string scenario_path;
    std::string port_file;
    std::int64_t idle_close_ms = 0;
    std::int64_t keep_alive_s = 0;
    std::size_t rate_limit = 0;
    std::int64_t rate_window_ms = 60'000;
    std::optional<std::int64_t> chaos_seed;

    // The env default is applied by CLI11 (flag > STACKONE_MOCK_API_KEY > built-in default).
    app.add_option("--host", options.host, "Loopback address to listen on")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& host) {
                return mock::is_loopback_host(host)
                           ? std::string()
                           : "must be a loopback address (127.0.0.0/8, ::1 or localhost), got '" +
                                 host + "'";
            },
            "LOOPBACK"));
    app.add_option("--port", port, "TCP port; 0 picks a free one")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    auto* tls = app.add_flag("--tls", options.tls, "Serve HTTPS (TLS 1.2 or newer)");
    auto* cert = app.add_option("--cert", options.cert_file, "PEM certificate chain (with --tls)")
                     ->check(CLI::ExistingFile);
    auto* key = app.add_option("--key", options.key_file, "PEM private key (with --tls)")
                    ->check(CLI::ExistingFile);
    tls->needs(cert);
    tls->needs(key);
    cert->needs(tls);
    key->needs(tls);
    app.add_option("--api-key", options.api_key, "API key that Basic auth must carry")
        ->envname("STACKONE_MOCK_API_KEY")
        ->check(CLI::Validator(
            [](std::string& value) {
                return value.empty() ? std::string("must not be empty") : std::string();
            },
            "KEY"));
    app.add_option("--ledger", options.ledger_path, "JSONL file each created note is appended to");
    app.add_option("--scenario", scenario_path, "JSON file of scripted answers")
        ->check(CLI::ExistingFile);
    app.add_option("--threads", options.threads, "Worker threads")
        ->capture_default_str()
        ->check(CLI::Range(1u, 256u));
    app.add_option("--port-file", port_file, "Write the port and a newline here once listening");
    app.add_option("--idle-close-ms",
                   idle_close_ms,
                   "Close a connection idle this long between requests; 0 = never")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{3'600'000}));
    app.add_option("--keep-alive-timeout",
                   keep_alive_s,
                   "Send `Keep-Alive: timeout=S` on every response; 0 = no such header")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400}));
    app.add_option("--rate-limit",
                   rate_limit,
                   "At most N note requests per --rate-window-ms; the excess gets 429 with "
                   "Retry-After; 0 = no limit")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}));
    app.add_option("--rate-window-ms", rate_window_ms, "The window of --rate-limit")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{3'600'000}));
    app.add_option("--chaos-seed",
                   chaos_seed,
                   "Random faults for unscripted requests, seeded: sets the scenario's "
                   "random.seed (default mix unless the scenario gives one)")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{9'007'199'254'740'991}));

    try
    {
        app.parse(argc, argv);
    }
    catch (const CLI::ParseError& e)
    {
        // --help is a "successful" parse error (exit 0); every other one is a usage error.
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    options.port = static_cast<unsigned short>(port);
    options.idle_close_ms = std::chrono::milliseconds(idle_close_ms);
    options.keep_alive_header_s = std::chrono::seconds(keep_alive_s);
    options.rate_limit_requests = rate_limit;
    options.rate_limit_window = std::chrono::milliseconds(rate_window_ms);

    // The program has no way to read an in-memory ledger; keeping one would only grow
    // without bound in long benchmarks. The file ledger (--ledger) is the program's record.
    options.ledger_in_memory = false;

    if (!scenario_path.empty())
    {
        try
        {
            options.scenario = mock::server::load_scenario_file(scenario_path);
        }
        catch (const std::exception& e)
        {
            std::cerr << "stackone-mock: --scenario: " << e.what() << '\n';
            return 2;
        }
    }
    if (chaos_seed)
    {
        // The seed goes into the scenario's `random` object (made if absent), so the server
        // validates the result like any scenario file.
        if (options.scenario.is_null())
        {
            options.scenario = boost::json::object();
        }
        if (auto* top = options.scenario.if_object())
        {
            // Anything but an object or null stays, for the server to refuse by name.
            auto& random = (*top)["random"];
            if (random.is_null())
            {
                random = boost::json::object();
            }
            if (auto* fields = random.if_object())
            {
                (*fields)["seed"] = *chaos_seed;
            }
        }
    }

    // A signal that arrives from here on is handled, never the default "terminate".
    std::signal(SIGPIPE, SIG_IGN);
    boost::asio::io_context signal_context;
    boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);

    std::optional<mock::server> server;
    try
    {
        server.emplace(std::move(options));
    }
    catch (const std::exception& e)
    {
        // Bad options: the TLS files, the ledger path or the scenario's content.
        std::cerr << "stackone-mock: " << e.what() << '\n';
        return 2;
    }

    try
    {
        server->start();
        if (!port_file.empty())
        {
            write_port_file(port_file, server->port());
        }
    }
    catch (const std::exception& e)
    {
        std::cerr << "stackone-mock: " << e.what() << '\n';
        return 1;
    }
    std::cout << "stackone-mock listening on " << server->base_url() << std::endl;

    signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
        if (!ec)
        {
            std::cerr << "stackone-mock: received signal " << signal_number << ", stopping\n";
        }
    });
    signal_context.run();

    server->stop();
    std::cerr << "stackone-mock: stopped; " << format_stats(server->get_stats()) << std::endl;
    return 0;
}
