// Response classification and the heartbeat-aware body, fed bytes directly (no sockets).
#include <stackone/detail/response.hpp>

#include <boost/beast/http/error.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace stackone;
using namespace stackone::detail;
namespace http = boost::beast::http;

namespace {

// Feeds @p wire to a response parser in pieces of @p step bytes.
struct parsed_response
{
    error_code ec;
    int status = 0;
    std::string json;
    std::size_t heartbeat_bytes = 0;
};

parsed_response parse_in_pieces(std::string_view wire, std::size_t step, bool eof = false)
{
    response_parts parts;
    response_reader p(parts, response_limits{});
    parsed_response out;
    std::string pending;
    for (std::size_t i = 0; i < wire.size() && !out.ec; i += step)
    {
        pending.append(wire.substr(i, step));
        // put() stops after the header, so it is called until it takes nothing more.
        for (;;)
        {
            const auto used = p.put(boost::asio::buffer(pending), out.ec);
            if (out.ec == http::error::need_more)
                out.ec = {};
            pending.erase(0, used);
            if (used == 0 || out.ec || p.is_done())
                break;
        }
    }
    if (!out.ec && eof)
        p.put_eof(out.ec);
    if (!out.ec && !p.is_done())
        out.ec = http::error::partial_message;
    if (p.is_header_done())
        out.status = parts.status;
    out.json = parts.json;
    out.heartbeat_bytes = parts.heartbeat_bytes;
    return out;
}

const std::string created_json =
    R"({"statusCode":201,"message":"Record created successfully.",)"
    R"("timestamp":"2026-12-03T10:00:00.000Z","data":{"id":"n-1","remote_id":"r-1"},"x":1})";

} // namespace

BOOST_AUTO_TEST_SUITE(response)

BOOST_AUTO_TEST_CASE(created_body_gives_ids_and_keeps_unknown_fields)
{
    create_result r;
    const auto ec = classify_response({201, false, created_json, 0}, r);
    BOOST_TEST(!ec);
    BOOST_TEST(r.status == 201);
    BOOST_TEST(r.id.value() == "n-1");
    BOOST_TEST(r.remote_id.value() == "r-1");
    BOOST_TEST(r.message == "Record created successfully.");
    BOOST_TEST(r.timestamp == "2026-12-03T10:00:00.000Z");
    BOOST_TEST(r.raw.at("x") == 1);
}

BOOST_AUTO_TEST_CASE(null_ids_stay_null)
{
    create_result r;
    const auto ec = classify_response(
        {201, false, R"({"statusCode":201,"message":"m","timestamp":"t","data":{"id":null}})", 0},
        r);
    BOOST_TEST(!ec);
    BOOST_TEST(r.id.is_null());
    BOOST_TEST(r.remote_id.is_absent());
}

BOOST_AUTO_TEST_CASE(every_documented_error_status_is_typed_with_the_server_message)
{
    for (int status : {400, 401, 403, 404, 408, 409, 412, 422, 429, 500, 501, 502})
    {
        BOOST_TEST_CONTEXT(status)
        {
            const std::string body = R"({"statusCode":)" + std::to_string(status) +
                                     R"(,"message":"said )" + std::to_string(status) +
                                     R"(","timestamp":"odd","errorCode":"E1",)"
                                     R"("provider_errors":[{"status":1,"raw":{"a":1}}]})";
            create_result r;
            const auto ec = classify_response({status, false, body, 0}, r);
            BOOST_TEST(is_http_error(ec));
            BOOST_TEST(ec.value() == status);
            BOOST_TEST(r.diag.message == "said " + std::to_string(status));
            BOOST_TEST(r.diag.provider_errors.as_array().size() == 1u);
            BOOST_TEST(r.diag.body.at("errorCode") == "E1");
            BOOST_TEST(r.diag.http_status == status);
            // Only a 408 or a 5xx but 501 may have created the note.
            const bool may_have_created = status == 408 || status == 500 || status == 502;
            BOOST_TEST(r.diag.may_have_been_processed == may_have_created);
        }
    }
}

BOOST_AUTO_TEST_CASE(error_without_timestamp_or_with_html_body_is_still_its_status)
{
    create_result r;
    auto ec = classify_response({404, false, R"({"statusCode":404,"message":"nope"})", 0}, r);
    BOOST_TEST(ec == make_http_error(404));
    BOOST_TEST(r.diag.message == "nope");

    create_result html;
    ec = classify_response({502, false, "<html>bad gateway</html>", 0}, html);
    BOOST_TEST(ec == make_http_error(502));
    BOOST_TEST(html.diag.body_excerpt == "<html>bad gateway</html>");
    BOOST_TEST(html.diag.may_have_been_processed);
}

BOOST_AUTO_TEST_CASE(malformed_success_body_is_a_typed_error)
{
    create_result r;
    BOOST_TEST(classify_response({201, false, "{\"statusCode\":20", 0}, r) ==
               make_error_code(errc::malformed_response));
    BOOST_TEST(r.diag.may_have_been_processed);
    create_result r2;
    BOOST_TEST(classify_response({201, false, "[1]", 0}, r2) ==
               make_error_code(errc::malformed_response));
}

BOOST_AUTO_TEST_CASE(whitespace_only_body_is_empty_body_never_success)
{
    create_result r;
    BOOST_TEST(classify_response({200, true, "", 40}, r) == make_error_code(errc::empty_body));
}

BOOST_AUTO_TEST_CASE(body_status_decides_when_heartbeats_applied)
{
    create_result ok;
    BOOST_TEST(!classify_response({200, true, created_json, 3}, ok));
    BOOST_TEST(ok.status == 201);
    BOOST_TEST(ok.heartbeat_applied);
    BOOST_TEST(ok.heartbeat_bytes == 3u);

    create_result limited;
    const auto ec = classify_response(
        {200, true, R"({"statusCode":429,"message":"slow down","timestamp":"t"})", 5}, limited);
    BOOST_TEST(ec == make_http_error(429));
}

BOOST_AUTO_TEST_CASE(body_status_decides_when_it_disagrees_with_status_line)
{
    create_result r;
    const auto ec = classify_response(
        {200, false, R"({"statusCode":422,"message":"bad","provider_errors":[]})", 0}, r);
    BOOST_TEST(ec == make_http_error(422));
}

// Found by test/fuzz/fuzz_result_mapper: the body's statusCode was cast to int unchecked, so
// 4294967497 wrapped to 201 and a 500 response became a created note.
BOOST_AUTO_TEST_CASE(out_of_range_body_status_is_ignored_not_wrapped)
{
    create_result r;
    const auto ec =
        classify_response({500, false, R"({"statusCode":4294967497,"data":{"id":"n"}})", 0}, r);
    BOOST_TEST(ec == make_http_error(500));
    BOOST_TEST(r.diag.body_status == 0);

    for (const char* body : {R"({"statusCode":-201})",
                             R"({"statusCode":99})",
                             R"({"statusCode":1000})",
                             R"({"statusCode":18446744073709551615})"})
    {
        BOOST_TEST_CONTEXT(body)
        {
            create_result applied;
            BOOST_TEST(!classify_response({200, true, body, 2}, applied));
            BOOST_TEST(applied.status == 200);
            BOOST_TEST(applied.diag.body_status == 0);
        }
    }
}

// Found by test/fuzz/fuzz_response_reader: Beast accepts "HTTP/1.1 000 OK", and
// make_http_error(0) is an error_code that reads as success, so the call counted as created.
BOOST_AUTO_TEST_CASE(status_line_under_100_is_malformed_never_success)
{
    for (int status : {0, 7, 99})
    {
        BOOST_TEST_CONTEXT(status)
        {
            create_result empty, object, created;
            BOOST_TEST(classify_response({status, false, "", 0}, empty) ==
                       make_error_code(errc::malformed_response));
            BOOST_TEST(classify_response({status, false, "{}", 0}, object) ==
                       make_error_code(errc::malformed_response));
            BOOST_TEST(classify_response({status, true, created_json, 4}, created) ==
                       make_error_code(errc::malformed_response));
            BOOST_TEST(created.diag.may_have_been_processed);
        }
    }
}

BOOST_AUTO_TEST_CASE(heartbeats_are_skipped_and_counted_in_chunked_bodies)
{
    std::string wire =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nPreference-Applied: heartbeat\r\n\r\n"
        "1\r\n\n\r\n2\r\n\r\n\r\n";
    wire += "3;ext=1\r\n \t\n\r\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", created_json.size());
    wire += size + created_json + "\r\n0\r\nTrailer-X: 1\r\n\r\n";

    for (std::size_t step : {std::size_t(1), std::size_t(2), std::size_t(7), wire.size()})
    {
        BOOST_TEST_CONTEXT("step " << step)
        {
            const auto r = parse_in_pieces(wire, step);
            BOOST_TEST(!r.ec);
            BOOST_TEST(r.status == 200);
            BOOST_TEST(r.heartbeat_bytes == 6u);
            BOOST_TEST(r.json == created_json);
        }
    }
}

BOOST_AUTO_TEST_CASE(json_split_at_every_byte_position_parses)
{
    // Two chunks, split at every position of a body with multi-byte UTF-8 characters.
    const std::string body = R"({"statusCode":201,"message":"Grüße 日本 😀",)"
                             R"("data":{"id":"n"}})";
    for (std::size_t cut = 0; cut <= body.size(); ++cut)
    {
        std::string wire = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n\n\n";
        auto chunk = [&](std::string_view part) {
            char size[16];
            std::snprintf(size, sizeof size, "%zx\r\n", part.size());
            if (!part.empty())
                wire += size + std::string(part) + "\r\n";
        };
        wire = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n";
        chunk("\n\n");
        chunk(std::string_view(body).substr(0, cut));
        chunk(std::string_view(body).substr(cut));
        wire += "0\r\n\r\n";
        const auto r = parse_in_pieces(wire, 3);
        BOOST_TEST_CONTEXT("cut " << cut)
        {
            BOOST_TEST(!r.ec);
            create_result res;
            BOOST_TEST(!classify_response({r.status, false, r.json, r.heartbeat_bytes}, res));
            BOOST_TEST(res.message == "Grüße 日本 😀");
        }
    }
}

BOOST_AUTO_TEST_CASE(close_delimited_body_parses_at_eof)
{
    const std::string wire = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\n\n" + created_json;
    const auto r = parse_in_pieces(wire, 5, true);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.heartbeat_bytes == 2u);
    BOOST_TEST(r.json == created_json);
}

BOOST_AUTO_TEST_CASE(reader_keeps_the_first_of_each_header_it_uses)
{
    const std::string wire = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
                             "retry-after: 9\r\nKeep-Alive: timeout=5, max=100\r\n"
                             "Preference-Applied: heartbeat\r\nX-Other: 1\r\n"
                             "Connection: close\r\nContent-Length: 2\r\n\r\n{}";
    response_parts parts;
    parts.retry_after = "left from the previous response";
    response_reader p(parts, response_limits{});
    error_code ec;
    // put() stops after the header; the body takes a second call.
    const auto used = p.put(boost::asio::buffer(wire), ec);
    p.put(boost::asio::buffer(wire.substr(used)), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(p.is_done());
    BOOST_TEST(parts.status == 429);
    BOOST_TEST(parts.retry_after == "7");
    BOOST_TEST(parts.keep_alive == "timeout=5, max=100");
    BOOST_TEST(parts.heartbeat_applied());
    BOOST_TEST(parts.json == "{}");
    BOOST_TEST(!p.keep_alive());

    // A new reader on the same parts starts clean.
    response_reader next(parts, response_limits{});
    const std::string plain = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    const auto head = next.put(boost::asio::buffer(plain), ec);
    next.put(boost::asio::buffer(plain.substr(head)), ec);
    BOOST_TEST(!ec);
    BOOST_TEST(next.is_done());
    BOOST_TEST(parts.status == 201);
    BOOST_TEST(parts.retry_after.empty());
    BOOST_TEST(!parts.heartbeat_applied());
    BOOST_TEST(next.keep_alive());
}

BOOST_AUTO_TEST_CASE(a_result_body_can_be_copied_from_several_threads)
{
    // raw lives in the body's own arena, and Boost.JSON copies allocate from the source's:
    // copies made at once on several threads must each be whole.
    create_result result;
    const response_view view{201, false, created_json, 0};
    BOOST_TEST_REQUIRE(!classify_response(view, result));
    const create_result& shared = result;
    std::vector<int> bad(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
    {
        threads.emplace_back([&shared, &bad, t] {
            for (int i = 0; i < 2000; ++i)
            {
                const boost::json::object copy = shared.raw; // same storage: the arena
                if (copy != shared.raw || copy.at("data").at("id") != "n-1")
                    ++bad[t];
            }
        });
    }
    for (auto& th : threads)
        th.join();
    BOOST_TEST(bad == std::vector<int>(4, 0), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(body_limit_counts_json_only)
{
    response_parts parts;
    response_reader p(parts, response_limits{.json_bytes = 10, .heartbeat_bytes = 1000});
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 520\r\n\r\n" +
                             std::string(500, '\n') + R"({"a":"123456789012345"})";
    error_code ec;
    const auto used = p.put(boost::asio::buffer(wire), ec);
    p.put(boost::asio::buffer(wire.substr(used)), ec);
    BOOST_TEST(ec == make_error_code(errc::body_too_large));
    BOOST_TEST(parts.heartbeat_bytes == 500u);
}

BOOST_AUTO_TEST_CASE(endless_heartbeats_trip_their_own_limit)
{
    response_parts parts;
    response_reader p(parts, response_limits{.heartbeat_bytes = 100});
    const std::string wire =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + std::string(0x200, '\n');
    error_code ec;
    std::size_t used = 0;
    for (int i = 0; i < 3 && !ec; ++i)
        used += p.put(boost::asio::buffer(wire.substr(used)), ec);
    BOOST_TEST(ec == make_error_code(errc::too_many_heartbeats));
}

BOOST_AUTO_TEST_SUITE_END()
