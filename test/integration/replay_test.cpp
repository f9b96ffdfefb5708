// Issue #5: a retry sends a byte-identical request. A minimal loopback HTTP server records each
// request's raw bytes (head and body, exactly as read from the socket) and answers from a
// script, so the test compares attempt 2 with attempt 1 byte for byte. The mock cannot do
// this: its HTTP parser consumes the bytes.
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Serves HTTP/1.1 requests with a Content-Length body on 127.0.0.1, keeps each request's bytes
// and answers the n-th request with answers[n] (the last one repeats). An answer that says
// `Connection: close` closes the connection after it.
class raw_recorder
{
public:
    explicit raw_recorder(std::vector<std::string> answers)
        : answers_(std::move(answers)),
          acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0))
    {
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }

    ~raw_recorder()
    {
        io_.stop();
        thread_.join();
    }

    raw_recorder(const raw_recorder&) = delete;
    raw_recorder& operator=(const raw_recorder&) = delete;

    std::string base_url() const
    {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }

    /// Every request so far, as received.
    std::vector<std::string> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }

    /// Connections accepted so far.
    std::size_t connections() const
    {
        std::lock_guard lock(mutex_);
        return connections_;
    }

private:
    asio::awaitable<void> accept_loop()
    {
        for (;;)
        {
            auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
            {
                std::lock_guard lock(mutex_);
                ++connections_;
            }
            asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket)
    {
        std::string buffer;
        for (;;)
        {
            // The head, up to the blank line, then exactly Content-Length body bytes.
            const std::size_t head_size = co_await asio::async_read_until(
                socket, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::use_awaitable);
            const std::size_t length =
                content_length(std::string_view(buffer).substr(0, head_size));
            if (buffer.size() < head_size + length)
                co_await asio::async_read(
                    socket,
                    asio::dynamic_buffer(buffer),
                    asio::transfer_exactly(head_size + length - buffer.size()),
                    asio::use_awaitable);
            std::string answer;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(buffer.substr(0, head_size + length));
                answer = answers_[std::min(requests_.size(), answers_.size()) - 1];
            }
            buffer.erase(0, head_size + length);
            co_await asio::async_write(socket, asio::buffer(answer), asio::use_awaitable);
            if (answer.find("\r\nConnection: close\r\n") != std::string::npos)
                co_return;
        }
    }

    static std::size_t content_length(std::string_view head)
    {
        constexpr std::string_view name = "\r\ncontent-length:";
        for (std::size_t i = 0; i + name.size() < head.size(); ++i)
        {
            if (boost::beast::iequals(head.substr(i, name.size()), name))
                return std::stoul(std::string(head.substr(i + name.size())));
        }
        return 0;
    }

    std::vector<std::string> answers_;
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
    std::size_t connections_ = 0;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

std::string
answer(const std::string& status_line, const std::string& extra, const std::string& body)
{
    return status_line +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + extra + "\r\n" + body;
}

const std::string created =
    answer("HTTP/1.1 201 Created",
           "",
           R"({"statusCode":201,"message":"Record created successfully.",)"
           R"("timestamp":"2026-12-03T17:40:01.123Z","data":{"id":"n-1","remote_id":"r-1"}})");

// Calls once against @p answers and checks that exactly two requests arrived, equal in bytes.
create_result two_identical_attempts(const std::vector<std::string>& answers,
                                     std::size_t expected_connections)
{
    raw_recorder server(answers);
    asio::io_context io;
    client_options opts;
    opts.base_url = server.base_url();
    opts.api_key = test_key;
    opts.account_id = "acc-test-1";
    opts.retry.initial_backoff = std::chrono::milliseconds(50);
    opts.retry.max_backoff = std::chrono::milliseconds(200);
    client c(io, opts);

    auto note = note::from_text("Strong phone screen; move to onsite. \xc3\xa9\xe2\x82\xac");
    note.author_id = "author-7";
    const auto out = create(io, c, "cand/with space", note);
    BOOST_TEST_REQUIRE(!out.ec, out.ec.message());
    BOOST_TEST(out.result.diag.attempts == 2);

    const auto requests = server.requests();
    BOOST_TEST_REQUIRE(requests.size() == 2u);
    const auto split = [](const std::string& r) {
        const auto end = r.find("\r\n\r\n") + 4;
        return std::pair(r.substr(0, end), r.substr(end));
    };
    const auto [head1, body1] = split(requests[0]);
    const auto [head2, body2] = split(requests[1]);
    BOOST_TEST(head2 == head1);
    BOOST_TEST(body2 == body1);
    BOOST_TEST(!body1.empty());
    BOOST_TEST(server.connections() == expected_connections);
    return out.result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(replay_bytes)

BOOST_AUTO_TEST_CASE(retry_after_429_sends_the_same_bytes)
{
    // Same connection (the 429 is keep-alive), one second later.
    const auto result =
        two_identical_attempts({answer("HTTP/1.1 429 Too Many Requests",
                                       "Retry-After: 1\r\n",
                                       R"({"statusCode":429,"message":"Too many requests"})"),
                                created},
                               1);
    BOOST_TEST(!result.diag.possible_duplicate);
}

BOOST_AUTO_TEST_CASE(replayed_408_sends_the_same_bytes_on_a_new_connection)
{
    // The 408 closes its connection, so the replay is written on a fresh one.
    const auto result =
        two_identical_attempts({answer("HTTP/1.1 408 Request Timeout",
                                       "Connection: close\r\n",
                                       R"({"statusCode":408,"message":"Request timed out"})"),
                                created},
                               2);
    BOOST_TEST(result.diag.possible_duplicate);
}

BOOST_AUTO_TEST_SUITE_END()
