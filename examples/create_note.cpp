//
// Creates one note on a candidate from a coroutine.
//
// Usage: create_note [CANDIDATE_ID [TEXT]]
// Environment: STACKONE_API_KEY and STACKONE_ACCOUNT_ID (required), STACKONE_BASE_URL (default
// https://api.stackone.com), STACKONE_CA_FILE (optional PEM file of extra trusted CAs).
//
#include "example_env.hpp"

#include <stackone/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;

namespace {

void print_error(const stackone::error& e)
{
    // The code says what went wrong; the diagnostics say what the server (or the socket) said.
    const stackone::diagnostics& d = e.diag();
    std::cerr << "error: " << e.code().category().name() << ':' << e.code().value() << " ("
              << e.code().message() << ")\n"
              << "  message: " << d.message << "\n  detail: " << d.detail
              << "\n  http status: " << d.http_status << ", attempts: " << d.attempts
              << ", may have been processed: " << std::boolalpha << d.may_have_been_processed
              << '\n';
}

asio::awaitable<int>
create_one(stackone::client& client, std::string candidate_id, std::string text)
{
    int status = 1;
    try
    {
        // The account comes from the client's options, so the call needs no call_options.
        stackone::create_result result =
            co_await client.create_candidate_note(candidate_id, stackone::note::from_text(text));
        std::cout << "created note " << result.id.value_or("(no id)") << " on " << candidate_id
                  << " (status " << result.status << ")\n";
        status = 0;
    }
    catch (const stackone::error& e)
    {
        print_error(e);
    }
    co_return status;
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
    const std::string candidate_id = argc > 1 ? argv[1] : "cand-example-1";
    const std::string text = argc > 2 ? argv[2] : "Strong phone screen; move to onsite.";

    try
    {
        // One io_context runs the client; the coroutine's result becomes the exit status.
        asio::io_context io;
        stackone::client client(io, std::move(options));
        int exit_status = 1;
        asio::co_spawn(
            io, create_one(client, candidate_id, text), [&](std::exception_ptr ep, int status) {
                if (ep)
                    std::rethrow_exception(ep);
                exit_status = status;
            });
        io.run();
        return exit_status;
    }
    catch (const stackone::error& e)
    {
        // The constructor throws too, e.g. for a malformed STACKONE_BASE_URL.
        print_error(e);
    }
    catch (const std::exception& e)
    {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}
