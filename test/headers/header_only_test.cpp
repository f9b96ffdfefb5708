// The header-only mode: this file is built WITHOUT STACKONE_SEPARATE_COMPILATION and without
// the compiled library, so every out-of-line body comes from the headers' impl/*.ipp.
#ifdef STACKONE_SEPARATE_COMPILATION
#error "this test must be built in header-only mode"
#endif

#include <stackone/client.hpp>
#include <stackone/import.hpp>

#include <mock_server.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>

int main()
{
    stackone::mock::server_options mock_opts;
    mock_opts.api_key = "sk_test_header_only";
    stackone::mock::server mock(mock_opts);
    mock.start();

    boost::asio::io_context io;
    stackone::client_options opts;
    opts.base_url = mock.base_url();
    opts.api_key = "sk_test_header_only";
    opts.account_id = "acc-h";
    stackone::client client(io, opts);

    stackone::error_code result_ec = stackone::errc::internal_error;
    stackone::create_result result;
    client.async_create_candidate_note("cand-h",
                                       stackone::note::from_text("header-only"),
                                       {},
                                       [&](stackone::error_code ec, stackone::create_result r) {
                                           result_ec = ec;
                                           result = std::move(r);
                                       });
    io.run();

    const bool ok = !result_ec && result.id.has_value() && mock.ledger().size() == 1;
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", result_ec.message().c_str());
    return ok ? 0 : 1;
}
