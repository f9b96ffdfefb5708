//
// Creates one note on a candidate with a plain callback: no coroutines in the caller's code.
//
// Usage: callback [CANDIDATE_ID [TEXT]]
// Environment: STACKONE_API_KEY and STACKONE_ACCOUNT_ID (required), STACKONE_BASE_URL (default
// https://api.stackone.com), STACKONE_CA_FILE (optional PEM file of extra trusted CAs).
//
#include "example_env.hpp"

#include <stackone/client.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

namespace {} // namespace

int main(int argc, char** argv)
{
    // Key, account, base URL and CA file come from the environment (example_env.hpp).
    auto env_options = example::options_from_env();
    if (!env_options)
    {
        return 2;
    }
    stackone::client_options options = std::move(*env_options);
    const std::string candidate_id = argc > 1 ? argv[1] : "cand-example-1";
    const std::string text = argc > 2 ? argv[2] : "Strong phone screen; move to onsite.";

    try
    {
        asio::io_context io;
        stackone::client client(io, std::move(options));

        // The handler runs inside io.run(); errors arrive as a code, never as an exception, and
        // the diagnostics travel in the result.
        int exit_status = 1;
        client.async_create_candidate_note(
            candidate_id,
            stackone::note::from_text(text),
            stackone::call_options{},
            [&](stackone::error_code ec, stackone::create_result result) {
                if (ec)
                {
                    const stackone::diagnostics& d = result.diag;
                    std::cerr << "error: " << ec.category().name() << ':' << ec.value() << " ("
                              << ec.message() << ")\n  message: " << d.message
                              << "\n  detail: " << d.detail << "\n  http status: " << d.http_status
                              << ", attempts: " << d.attempts
                              << ", may have been processed: " << std::boolalpha
                              << d.may_have_been_processed << '\n';
                    return;
                }
                std::cout << "created note " << result.id.value_or("(no id)") << " on "
                          << candidate_id << " (status " << result.status << ")\n";
                exit_status = 0;
            });

        // The arguments were copied when the call started, so only the client must stay alive.
        io.run();
        return exit_status;
    }
    catch (const std::exception& e)
    {
        // Only the constructor throws, e.g. for a malformed STACKONE_BASE_URL.
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}
