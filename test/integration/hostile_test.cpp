// Hostile server answers: garbage status lines, oversized heads, bodies that never end, HTTP/1.0
// framing, `Connection: close` from a server that keeps the connection open, and a server that
// offers only TLS 1.1. Each gives its typed error (or its success), says whether the note may
// exist, and leaves the pool healthy: the next call on the same client succeeds, and the
// connection that carried the bad answer is never reused (pool stats).
//
// The answers are `raw` mock steps (test/mock/README.md): bytes sent verbatim, then `raw_then`.
// `keep_open` is used wherever it makes a reuse bug visible: the server would happily serve a
// second request on that connection, so only the client's own decision retires it.
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// A scenario whose candidates starting with "raw-" get @p bytes, then @p then; other ids are
// answered normally (201).
json::value raw_scenario(const std::string& bytes, const std::string& then)
{
    json::object step{{"raw", bytes}, {"raw_then", then}, {"times", 0}};
    json::object rule{{"candidate_id", "^raw-"}, {"steps", json::array{step}}};
    return json::object{{"rules", json::array{rule}}};
}

// A stalled answer ends the attempt quickly; max_attempts stays 3.
void short_attempts(client_options& o)
{
    o.retry.attempt_timeout = std::chrono::milliseconds(300);
}

// A complete body as StackOne sends for a created note.
const std::string created_json =
    R"({"statusCode":201,"message":"Record created successfully.",)"
    R"("timestamp":"2026-12-03T17:40:01.123Z","data":{"id":"raw-note-1","remote_id":"raw-r-1"}})";

std::string content_length_head(const std::string& status_line, std::size_t length)
{
    return status_line +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) +
           "\r\n";
}

// What every hostile answer must leave behind: the call that met it made one attempt (nothing
// after the request was written is replayed), the next call on the same client succeeds, and
// it runs on a new connection because the first was retired.
void check_pool_healthy_after(mock_fixture& f, asio::io_context& io, client& c)
{
    const auto before = f.server.get_stats().created;
    const auto next = create(io, c, "ok-after-1");
    BOOST_TEST(!next.ec, "the next call failed: " << next.ec.message());
    BOOST_TEST(f.server.get_stats().created == before + 1);
    const auto st = c.stats();
    BOOST_TEST(st.connections_opened == 2u);
    BOOST_TEST(st.connections_reused == 0u);
    BOOST_TEST(st.retired_not_reusable == 1u);
}

// Runs one call against a `raw` answer and checks the error and the pool afterwards.
void expect_error_then_healthy(const std::string& bytes,
                               const std::string& then,
                               errc expected,
                               const std::function<void(client_options&)>& tweak = {})
{
    mock_fixture f;
    f.server.set_scenario(raw_scenario(bytes, then));
    asio::io_context io;
    auto opts = f.client_opts();
    if (tweak)
        tweak(opts);
    client c(io, opts);

    const auto bad = create(io, c, "raw-1");
    BOOST_TEST(bad.ec == make_error_code(expected), bad.ec.message());
    BOOST_TEST(bad.result.diag.may_have_been_processed);
    BOOST_TEST(bad.result.diag.attempts == 1);
    BOOST_TEST(f.server.get_stats().created == 0u);
    check_pool_healthy_after(f, io, c);
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_peers)

BOOST_AUTO_TEST_CASE(garbage_status_lines_are_malformed_responses)
{
    const std::vector<std::string> answers = {
        "HTTP/1.1 2x1 Created\r\nContent-Length: 2\r\n\r\n{}", // status not three digits
        "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",                  // not HTTP at all
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\xfe", 13), // binary
        "HTTP/9.9 201 Created\r\nContent-Length: 2\r\n\r\n{}",                   // version
        "HTTP/1.1 201 Created\r\nno colon in this header\r\n\r\n",               // bad field
    };
    for (const auto& answer : answers)
    {
        BOOST_TEST_CONTEXT("answer " << json::value(answer))
        {
            expect_error_then_healthy(answer, "keep_open", errc::malformed_response);
        }
    }
}

BOOST_AUTO_TEST_CASE(head_over_header_bytes_is_header_too_large)
{
    // One header of 20 KiB: over the default limits.header_bytes (16 KiB).
    const std::string answer = content_length_head("HTTP/1.1 201 Created", created_json.size()) +
                               "X-Padding: " + std::string(20 * 1024, 'a') + "\r\n\r\n" +
                               created_json;
    expect_error_then_healthy(answer, "keep_open", errc::header_too_large);
}

BOOST_AUTO_TEST_CASE(many_small_headers_over_the_limit_are_header_too_large)
{
    std::string answer = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n";
    for (int i = 0; i < 2000; ++i)
        answer += "X-H" + std::to_string(i) + ": v\r\n";
    answer += "\r\n{}";
    expect_error_then_healthy(answer, "keep_open", errc::header_too_large);
}

// A chunked answer whose body goes on forever: after `head`, `chunk` again and again.
json::value endless_scenario(const std::string& chunk, int interval_ms)
{
    const std::string head = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n9\r\n{\"data\":\"\r\n";
    json::object step{{"raw", head},
                      {"raw_repeat", chunk},
                      {"raw_repeat_interval_ms", interval_ms},
                      {"times", 0}};
    json::object rule{{"candidate_id", "^raw-"}, {"steps", json::array{step}}};
    return json::object{{"rules", json::array{rule}}};
}

BOOST_AUTO_TEST_CASE(chunked_body_that_never_ends_stops_at_body_bytes)
{
    // 16 KiB chunks as fast as the client reads, forever: the client must stop at the default
    // 1 MiB limit, not wait for an end.
    mock_fixture f;
    f.server.set_scenario(endless_scenario("4000\r\n" + std::string(16 * 1024, 'a') + "\r\n", 0));
    asio::io_context io;
    client c(io, f.client_opts());
    const auto bad = create(io, c, "raw-1");
    BOOST_TEST(bad.ec == make_error_code(errc::body_too_large), bad.ec.message());
    BOOST_TEST(bad.result.diag.may_have_been_processed);
    BOOST_TEST(bad.result.diag.attempts == 1);
    check_pool_healthy_after(f, io, c);
}

BOOST_AUTO_TEST_CASE(body_trickling_forever_hits_the_attempt_timeout)
{
    // One JSON byte every 20 ms keeps a 200 ms heartbeat gap re-armed for ever; the attempt's
    // own time limit still ends it (and, the request being written, it is not replayed).
    mock_fixture f;
    f.server.set_scenario(endless_scenario("1\r\na\r\n", 20));
    asio::io_context io;
    auto opts = f.client_opts();
    opts.heartbeat = true;
    opts.heartbeat_gap = std::chrono::milliseconds(200);
    opts.retry.attempt_timeout = std::chrono::milliseconds(800);
    client c(io, opts);
    const auto bad = create(io, c, "raw-1");
    BOOST_TEST(bad.ec == make_error_code(errc::attempt_timeout), bad.ec.message());
    BOOST_TEST(bad.result.diag.may_have_been_processed);
    BOOST_TEST(bad.result.diag.attempts == 1);
    check_pool_healthy_after(f, io, c);
}

BOOST_AUTO_TEST_CASE(huge_content_length_stops_at_body_bytes)
{
    const std::string answer = content_length_head("HTTP/1.1 201 Created", 1'000'000'000'000) +
                               "\r\n{\"data\":\"" + std::string(8192, 'a');
    expect_error_then_healthy(answer, "stall", errc::body_too_large, [](client_options& o) {
        o.limits.body_bytes = 4096;
    });
}

BOOST_AUTO_TEST_CASE(body_that_stops_arriving_hits_the_attempt_timeout)
{
    // Three attempts allowed, yet one made: the request was written, so it is never replayed.
    const std::string answer =
        content_length_head("HTTP/1.1 201 Created", 10'000) + "\r\n{\"statusCode\":201,";
    expect_error_then_healthy(answer, "stall", errc::attempt_timeout, short_attempts);
}

BOOST_AUTO_TEST_CASE(head_that_stops_arriving_hits_the_attempt_timeout)
{
    expect_error_then_healthy(
        "HTTP/1.1 201 Created\r\nContent-Ty", "stall", errc::attempt_timeout, short_attempts);
}

BOOST_AUTO_TEST_CASE(close_in_the_middle_of_the_head_is_connection_closed)
{
    expect_error_then_healthy(
        "HTTP/1.1 201 Created\r\nContent-Ty", "close", errc::connection_closed);
}

BOOST_AUTO_TEST_CASE(http_1_0_answers_are_used_but_never_kept_alive)
{
    struct variant
    {
        const char* name;
        std::string bytes;
        const char* then;
    };
    const std::vector<variant> variants = {
        // With Content-Length and no `Connection: keep-alive`: HTTP/1.0 closes by default, so
        // the connection must not be reused even though the server leaves it open.
        {"content-length",
         content_length_head("HTTP/1.0 201 Created", created_json.size()) + "\r\n" + created_json,
         "keep_open"},
        // Without a length: the body ends when the server closes.
        {"close-delimited",
         "HTTP/1.0 201 Created\r\nContent-Type: application/json\r\n\r\n" + created_json,
         "close"},
    };
    for (const bool tls : {false, true})
        for (const auto& v : variants)
        {
            BOOST_TEST_CONTEXT(v.name << (tls ? " over TLS" : " over TCP"))
            {
                mock_fixture f(mock_setup{.tls = tls});
                f.server.set_scenario(raw_scenario(v.bytes, v.then));
                asio::io_context io;
                client c(io, f.client_opts());
                const auto out = create(io, c, "raw-1");
                BOOST_TEST(!out.ec, out.ec.message());
                BOOST_TEST(out.result.status == 201);
                BOOST_TEST(out.result.id.value_or("") == "raw-note-1");
                check_pool_healthy_after(f, io, c);
            }
        }
}

BOOST_AUTO_TEST_CASE(connection_close_is_honoured_even_if_the_server_keeps_the_connection)
{
    mock_fixture f;
    f.server.set_scenario(
        raw_scenario(content_length_head("HTTP/1.1 201 Created", created_json.size()) +
                         "Connection: close\r\n\r\n" + created_json,
                     "keep_open"));
    asio::io_context io;
    client c(io, f.client_opts());
    const auto out = create(io, c, "raw-1");
    BOOST_TEST(!out.ec, out.ec.message());
    BOOST_TEST(out.result.id.value_or("") == "raw-note-1");
    check_pool_healthy_after(f, io, c);
}

BOOST_AUTO_TEST_CASE(reset_after_a_complete_answer_does_not_poison_the_pool)
{
    // A complete, reusable-looking answer, then a TCP RST. Once the reset has happened (the
    // mock has dropped the connection; on loopback the RST is then already at our socket), the
    // next call must find the pooled connection dead and use a new one, without a failed
    // attempt. (Before the reset, the same call races it; a POST is then never replayed.)
    mock_fixture f;
    f.server.set_scenario(raw_scenario(
        content_length_head("HTTP/1.1 201 Created", created_json.size()) + "\r\n" + created_json,
        "reset"));
    asio::io_context io;
    client c(io, f.client_opts());
    const auto out = create(io, c, "raw-1");
    BOOST_TEST(!out.ec, out.ec.message());
    BOOST_TEST(c.stats().idle == 1u);

    // Waits for a condition, bounded; the short sleeps only pace the polling.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (f.server.get_stats().connections_open != 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    BOOST_TEST_REQUIRE(f.server.get_stats().connections_open == 0u);

    const auto next = create(io, c, "ok-after-1");
    BOOST_TEST(!next.ec, next.ec.message());
    BOOST_TEST(next.result.diag.attempts == 1);
    BOOST_TEST(c.stats().retired_closed_by_peer == 1u);
    BOOST_TEST(c.stats().connections_opened == 2u);
    BOOST_TEST(f.server.get_stats().created == 1u);
}

BOOST_AUTO_TEST_CASE(redirects_to_another_origin_are_never_followed)
{
    // security/redirects_are_not_followed covers a 302 to a name that does not resolve; here
    // the other origin is a live server, which must see no connection at all (the request
    // would carry the Authorization header), and every redirect status is tried, 307 and 308
    // (which keep the method and body) included.
    mock_fixture elsewhere;
    for (const int status : {301, 302, 303, 307, 308})
    {
        BOOST_TEST_CONTEXT("status " << status)
        {
            json::object step{
                {"status", status},
                {"times", 0},
                {"headers",
                 json::object{{"Location",
                               elsewhere.server.base_url() + "/unified/ats/candidates/"
                                                             "c-1/notes"}}}};
            json::object rule{{"candidate_id", "^moved-"}, {"steps", json::array{step}}};
            mock_fixture f;
            f.server.set_scenario(json::object{{"rules", json::array{rule}}});
            asio::io_context io;
            client c(io, f.client_opts());
            const auto out = create(io, c, "moved-1");
            BOOST_TEST(out.ec == make_http_error(status), out.ec.message());
            BOOST_TEST(out.result.diag.attempts == 1);
            BOOST_TEST(f.server.get_stats().requests == 1u);
            BOOST_TEST(!create(io, c, "ok-after-1").ec);
            BOOST_TEST(c.stats().connections_opened == 1u); // the 3xx left a reusable connection
        }
    }
    BOOST_TEST(elsewhere.server.get_stats().connections_accepted == 0u);
}

BOOST_AUTO_TEST_CASE(raw_steps_refuse_fields_they_would_ignore)
{
    mock_fixture f;
    const std::vector<std::pair<const char*, const char*>> bad = {
        {R"({"raw": "x", "status": 500})", "steps[0].status"},
        {R"({"raw": "x", "headers": {"A": "b"}})", "steps[0].headers"},
        {R"({"raw": "x", "action": "reset"})", "steps[0].action"},
        {R"({"raw": ""})", "steps[0].raw"},
        {R"({"raw": 7})", "steps[0].raw"},
        {R"({"raw": "x", "raw_then": "linger"})", "steps[0].raw_then"},
        {R"({"raw_then": "close"})", "steps[0].raw_then"},
        {R"({"raw_repeat": "x"})", "steps[0].raw_repeat"},
        {R"({"raw": "x", "raw_repeat": "y", "raw_then": "close"})", "steps[0].raw_then"},
        {R"({"raw": "x", "raw_repeat_interval_ms": 5})", "steps[0].raw_repeat_interval_ms"},
        {R"({"raw": "x", "raw_repeat": "y", "raw_repeat_interval_ms": -1})",
         "steps[0].raw_repeat_interval_ms"},
    };
    for (const auto& [step, names] : bad)
    {
        BOOST_TEST_CONTEXT(step)
        {
            const auto scenario =
                boost::json::parse(std::string(R"({"rules": [{"steps": [)") + step + "]}]}");
            std::string what;
            try
            {
                f.server.set_scenario(scenario);
            }
            catch (const std::runtime_error& e)
            {
                what = e.what();
            }
            BOOST_TEST(what.find(names) != std::string::npos, what);
        }
    }
    // The old (empty) scenario is still in force: an ordinary call is created.
    asio::io_context io;
    client c(io, f.client_opts());
    BOOST_TEST(!create(io, c, "c-1").ec);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// TLS older than 1.2
// ---------------------------------------------------------------------------------------------

namespace {

// A loopback TLS server that offers TLS 1.0 and 1.1 only (security level 0, which OpenSSL 3
// needs for them), and counts the handshakes that succeeded.
class old_tls_server
{
public:
    old_tls_server() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0))
    {
        SSL_CTX* ctx = tls_.native_handle();
        SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
        SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
        tls_.use_certificate_chain_file(cert_path("server.pem"));
        tls_.use_private_key_file(cert_path("server.key"), ssl::context::pem);
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~old_tls_server()
    {
        io_.stop();
        thread_.join();
    }

    old_tls_server(const old_tls_server&) = delete;
    old_tls_server& operator=(const old_tls_server&) = delete;

    std::string base_url() const
    {
        return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

private:
    void accept()
    {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec)
                return;
            auto stream = std::make_shared<ssl::stream<tcp::socket>>(std::move(s), tls_);
            stream->async_handshake(ssl::stream_base::server,
                                    [stream](boost::system::error_code) {});
            accept();
        });
    }

    asio::io_context io_;
    ssl::context tls_{ssl::context::tls_server};
    tcp::acceptor acceptor_;
    std::thread thread_;
};

// Precondition: a client that allows TLS 1.1 can handshake with old_tls_server, i.e. this
// OpenSSL still speaks TLS 1.1 at all; otherwise the client's refusal would prove nothing.
boost::test_tools::assertion_result tls_1_1_available(boost::unit_test::test_unit_id)
{
    old_tls_server server;
    asio::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
    ctx.set_verify_mode(ssl::verify_none);
    ssl::stream<tcp::socket> probe(io, ctx);
    boost::system::error_code ec;
    probe.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()),
                               ec);
    if (!ec)
        probe.handshake(ssl::stream_base::client, ec);
    boost::test_tools::assertion_result ok(!ec);
    ok.message() << "this OpenSSL cannot negotiate TLS 1.1 even when asked to: " << ec.message();
    return ok;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_tls)

BOOST_AUTO_TEST_CASE(server_offering_only_tls_1_1_is_refused,
                     *boost::unit_test::precondition(tls_1_1_available))
{
    old_tls_server server;
    asio::io_context io;
    client c(io, trusting_client_opts(server.base_url()));
    const auto out = create(io, c, "c-1");
    BOOST_TEST(out.ec == make_error_code(errc::tls_handshake_failed), out.ec.message());
    BOOST_TEST(!out.result.diag.may_have_been_processed);
    BOOST_TEST(out.result.diag.detail.find("version") != std::string::npos, out.result.diag.detail);
}

BOOST_AUTO_TEST_SUITE_END()
