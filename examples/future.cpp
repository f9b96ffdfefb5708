//
// Creates one note on a candidate and waits for it with a std::future, while a background thread
// runs the I/O: for code that is neither asynchronous nor wants to be.
//
// Usage: future [CANDIDATE_ID [TEXT]]
// Environment: STACKONE_API_KEY and STACKONE_ACCOUNT_ID (required), STACKONE_BASE_URL (default
// https://api.stackone.com), STACKONE_CA_FILE (optional PEM file of extra trusted CAs).
//
#include "example_env.hpp"

#include <stackone/client.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <exception>
#include <future>
#include <iostream>
#include <string>
#include <thread>

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

    // The I/O runs on its own thread; the work guard keeps it alive until we are done.
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread io_thread([&io] { io.run(); });

    int exit_status = 1;
    try
    {
        stackone::client client(io, std::move(options));

        // use_future turns the completion into a future; an error code becomes an exception.
        std::future<stackone::create_result> pending =
            client.async_create_candidate_note(candidate_id,
                                               stackone::note::from_text(text),
                                               stackone::call_options{},
                                               asio::use_future);

        // get() blocks this thread only; the client keeps working on the I/O thread.
        stackone::create_result result = pending.get();
        std::cout << "created note " << result.id.value_or("(no id)") << " on " << candidate_id
                  << " (status " << result.status << ")\n";
        exit_status = 0;
    }
    catch (const boost::system::system_error& e)
    {
        // use_future delivers only the error code: for the server's message and the other
        // diagnostics, use a callback, `as_tuple` in a coroutine, or the coroutine API.
        std::cerr << "error: " << e.code().category().name() << ':' << e.code().value() << " ("
                  << e.code().message() << ")\n";
    }
    catch (const std::exception& e)
    {
        std::cerr << "error: " << e.what() << '\n';
    }

    // The client is gone (it closed its idle connections); let the I/O thread drain and end.
    work.reset();
    io_thread.join();
    return exit_status;
}
