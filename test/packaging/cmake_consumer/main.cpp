//
// Links against the installed library and makes one call that fails at once (nothing listens on
// 127.0.0.1:1): proves the headers, the library and its dependencies all fit together, without
// the network.
//
#include <stackone/client.hpp>
#include <stackone/version.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

// The dependency must select the compiled mode; without it this file would quietly compile the
// whole library again (header-only) instead of linking the installed one.
#ifndef STACKONE_SEPARATE_COMPILATION
#error "the stackone-notes dependency did not define STACKONE_SEPARATE_COMPILATION"
#endif

int main()
{
    // One attempt only: a refused connect is otherwise retried after a backoff.
    stackone::client_options options;
    options.base_url = "http://127.0.0.1:1";
    options.api_key = "sk_test_consumer";
    options.account_id = "acct-consumer";
    options.retry.max_attempts = 1;

    boost::asio::io_context io;
    stackone::client client(io, std::move(options));

    // The expected outcome is connect_failed, with nothing sent.
    stackone::error_code result;
    client.async_create_candidate_note(
        "cand-1",
        stackone::note::from_text("hello"),
        stackone::call_options{},
        [&](stackone::error_code ec, const stackone::create_result&) { result = ec; });
    io.run();

    std::cout << "stackone-notes " << STACKONE_NOTES_VERSION << ": " << result.message() << '\n';
    return result == stackone::errc::connect_failed ? 0 : 1;
}
