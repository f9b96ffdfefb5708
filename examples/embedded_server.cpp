//
// A small HTTP server that creates StackOne notes on behalf of its own callers. All handlers share
// ONE stackone::client, and with it one connection pool and one retry budget.
//
// Usage: embedded_server [PORT]     (0 or none: a free port; the URL is printed)
//   POST /candidates/{id}/notes with a text/plain body
//   -> 201 {"id": ..., "remote_id": ...}, or 502 {"error": ..., "code": ..., ...}
// SIGINT or SIGTERM: stop accepting, finish the requests in flight (up to 10 s), exit 0.
// Environment: STACKONE_API_KEY and STACKONE_ACCOUNT_ID (required), STACKONE_BASE_URL (default
// https://api.stackone.com), STACKONE_CA_FILE (optional PEM file of extra trusted CAs).
//
#include "example_env.hpp"

#include <stackone/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <set>
#include <string>

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

namespace {

/// What the handlers share. One thread runs everything, so nothing needs a lock.
struct server
{
    stackone::client& client;
    asio::steady_timer drained;  ///< cancelled when the last session ends during shutdown
    std::set<tcp::socket*> idle; ///< connections waiting for a request: shutdown closes them
    int sessions = 0;
    bool stopping = false;
};

response make_response(const request& req, http::status status, const json::object& body)
{
    response res(status, req.version());
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(body);
    res.prepare_payload();
    return res;
}

/// The `{id}` of `/candidates/{id}/notes`, percent-decoded; empty for any other target.
std::string candidate_of(std::string_view target)
{
    auto url = boost::urls::parse_origin_form(target);
    if (!url || url->segments().size() != 3)
        return {};
    auto segment = url->segments().begin();
    const std::string first = *segment++;
    const std::string id = *segment++;
    return first == "candidates" && *segment == "notes" ? id : std::string();
}

asio::awaitable<response> handle(stackone::client& client, const request& req)
{
    // Anything but the one route is refused before the upstream API is involved.
    const std::string candidate_id = candidate_of(req.target());
    if (candidate_id.empty())
        co_return make_response(req, http::status::not_found, {{"error", "no such route"}});
    if (req.method() != http::verb::post)
        co_return make_response(req, http::status::method_not_allowed, {{"error", "use POST"}});

    // The request body becomes the note's only content item, unchanged.
    http::status status = http::status::created;
    json::object body;
    try
    {
        stackone::create_result result = co_await client.create_candidate_note(
            candidate_id, stackone::note::from_text(req.body()));
        body = {{"id", result.id.value_or("")}, {"remote_id", result.remote_id.value_or("")}};
    }
    catch (const stackone::error& e)
    {
        // The upstream call failed: our caller gets a 502 saying why, key never included.
        status = http::status::bad_gateway;
        body = {{"error", e.code().message()},
                {"code",
                 std::string(e.code().category().name()) + ':' + std::to_string(e.code().value())},
                {"upstream_status", e.diag().http_status},
                {"message", e.diag().message},
                {"may_have_been_processed", e.diag().may_have_been_processed}};
    }
    catch (const std::exception& e)
    {
        // A bug, not an upstream failure; the connection must still get its answer.
        status = http::status::internal_server_error;
        body = {{"error", e.what()}};
    }
    co_return make_response(req, status, body);
}

asio::awaitable<void> session(server& srv, tcp::socket socket)
{
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    auto on_error_set_ec = asio::redirect_error(asio::use_awaitable, ec);
    while (!srv.stopping)
    {
        // Wait for the next request; shutdown cancels this wait.
        request req;
        srv.idle.insert(&socket);
        co_await http::async_read(socket, buffer, req, on_error_set_ec);
        srv.idle.erase(&socket);
        if (ec)
            break;

        // From here on the request is in flight: shutdown waits until it is answered.
        response res = co_await handle(srv.client, req);
        res.keep_alive(req.keep_alive() && !srv.stopping);
        co_await http::async_write(socket, res, on_error_set_ec);
        if (ec || !res.keep_alive())
            break;
    }

    // The last session to end during shutdown lets serve() return.
    socket.shutdown(tcp::socket::shutdown_send, ec);
    if (--srv.sessions == 0 && srv.stopping)
        srv.drained.cancel();
}

asio::awaitable<void> serve(tcp::acceptor& acceptor, stackone::client& client)
{
    server srv{client, asio::steady_timer(acceptor.get_executor()), {}, 0, false};

    // A signal stops the accept loop below by closing the acceptor.
    asio::signal_set signals(acceptor.get_executor(), SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec)
            return;
        srv.stopping = true;
        acceptor.close();
    });

    // Each connection is served by its own coroutine.
    boost::system::error_code ec;
    auto on_error_set_ec = asio::redirect_error(asio::use_awaitable, ec);
    for (;;)
    {
        tcp::socket socket = co_await acceptor.async_accept(on_error_set_ec);
        if (ec)
            break;
        ++srv.sessions;
        asio::co_spawn(acceptor.get_executor(), session(srv, std::move(socket)), asio::detached);
    }
    if (!srv.stopping)
        std::cerr << "accept failed: " << ec.message() << '\n';

    // Idle keep-alive connections close now; busy ones close after their response.
    srv.stopping = true;
    signals.cancel();
    std::cout << "embedded_server stopping: " << srv.sessions << " connection(s) open" << std::endl;
    for (tcp::socket* idle : srv.idle)
        idle->cancel(ec);

    // The client lets calls in flight finish for a while, cancels the rest (their callers get a
    // 502), and closes its connections; then the last responses are written.
    const std::chrono::milliseconds grace = std::chrono::seconds(10);
    co_await client.async_shutdown(grace, on_error_set_ec);
    if (srv.sessions > 0)
    {
        srv.drained.expires_at(asio::steady_timer::time_point::max());
        co_await srv.drained.async_wait(on_error_set_ec);
    }
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
    const auto port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0);

    try
    {
        // Loopback only: this server has no authentication of its own.
        asio::io_context io;
        stackone::client client(io, std::move(options));
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        std::cout << "embedded_server listening on http://127.0.0.1:"
                  << acceptor.local_endpoint().port() << std::endl;

        // run() returns when serve() has drained the connections and shut the client down.
        asio::co_spawn(io, serve(acceptor, client), [](std::exception_ptr ep) {
            if (ep)
                std::rethrow_exception(ep);
        });
        io.run();
        std::cout << "embedded_server stopped" << std::endl;
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "error: " << e.what() << '\n';
    }
    return 1;
}
