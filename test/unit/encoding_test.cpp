// Request encoding: path segment, Basic auth, header checks, base URL, the request bytes.
#include <stackone/detail/request.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <utility>

using namespace stackone;
using namespace stackone::detail;

BOOST_AUTO_TEST_SUITE(encoding)

BOOST_AUTO_TEST_CASE(path_segment_escaping_table)
{
    struct row
    {
        std::string in, out;
    };
    const row table[] = {
        {"cand-1", "cand-1"},
        {"AZaz09-._~", "AZaz09-._~"},
        {"a/b", "a%2Fb"},
        {"a?b", "a%3Fb"},
        {"a#b", "a%23b"},
        {"100%", "100%25"},
        {"a b", "a%20b"},
        {"a+b", "a%2Bb"},
        {"../x", "..%2Fx"},
        {"åsa", "%C3%A5sa"},
        {"候補", "%E5%80%99%E8%A3%9C"},
        {std::string("a\0b", 3), "a%00b"},
        {"a:b@c", "a%3Ab%40c"},
    };
    for (const auto& r : table)
        BOOST_TEST(encode_path_segment(r.in) == r.out);
}

BOOST_AUTO_TEST_CASE(dot_segments_and_empty_ids_are_refused)
{
    BOOST_TEST(!is_valid_candidate_id(""));
    BOOST_TEST(!is_valid_candidate_id("."));
    BOOST_TEST(!is_valid_candidate_id(".."));
    BOOST_TEST(is_valid_candidate_id("..."));
    BOOST_TEST(is_valid_candidate_id(".a"));
    BOOST_TEST(is_valid_candidate_id(" "));
}

BOOST_AUTO_TEST_CASE(base64_matches_rfc4648_vectors)
{
    BOOST_TEST(base64_encode("") == "");
    BOOST_TEST(base64_encode("f") == "Zg==");
    BOOST_TEST(base64_encode("fo") == "Zm8=");
    BOOST_TEST(base64_encode("foo") == "Zm9v");
    BOOST_TEST(base64_encode("foob") == "Zm9vYg==");
    BOOST_TEST(base64_encode("fooba") == "Zm9vYmE=");
    BOOST_TEST(base64_encode("foobar") == "Zm9vYmFy");
}

BOOST_AUTO_TEST_CASE(basic_auth_uses_key_as_user_and_empty_password)
{
    BOOST_TEST(basic_auth_value("sk_test") == "Basic c2tfdGVzdDo=");
}

BOOST_AUTO_TEST_CASE(basic_auth_for_a_long_key_stays_on_one_line)
{
    const std::string key = "v1.eu1." + std::string(300, 'k');
    const std::string value = basic_auth_value(key);
    BOOST_TEST(value.find('\n') == std::string::npos);
    BOOST_TEST(value.find('\r') == std::string::npos);
    BOOST_TEST(value.size() == 6 + (key.size() + 1 + 2) / 3 * 4);
}

BOOST_AUTO_TEST_CASE(header_values_with_cr_lf_or_nul_are_refused)
{
    BOOST_TEST(is_valid_header_value("acc-1"));
    BOOST_TEST(is_valid_header_value(""));
    BOOST_TEST(!is_valid_header_value("acc\r\nX-Evil: 1"));
    BOOST_TEST(!is_valid_header_value("acc\n"));
    BOOST_TEST(!is_valid_header_value("acc\r"));
    BOOST_TEST(!is_valid_header_value(std::string("acc\0", 4)));
}

BOOST_AUTO_TEST_CASE(base_url_https_default_port)
{
    auto o = parse_base_url("https://api.stackone.com");
    BOOST_TEST_REQUIRE(o.has_value());
    BOOST_TEST(o->tls);
    BOOST_TEST(o->host == "api.stackone.com");
    BOOST_TEST(o->port == 443);
    BOOST_TEST(o->host_header == "api.stackone.com");
    BOOST_TEST(o->path_prefix == "");
    BOOST_TEST(!o->host_is_ip);
}

BOOST_AUTO_TEST_CASE(base_url_http_ip_with_port_and_prefix)
{
    auto o = parse_base_url("http://127.0.0.1:8080/proxy/");
    BOOST_TEST_REQUIRE(o.has_value());
    BOOST_TEST(!o->tls);
    BOOST_TEST(o->host == "127.0.0.1");
    BOOST_TEST(o->port == 8080);
    BOOST_TEST(o->host_header == "127.0.0.1:8080");
    BOOST_TEST(o->path_prefix == "/proxy");
    BOOST_TEST(o->host_is_ip);
}

BOOST_AUTO_TEST_CASE(base_url_ipv6_literal)
{
    auto o = parse_base_url("https://[::1]:8443");
    BOOST_TEST_REQUIRE(o.has_value());
    BOOST_TEST(o->host == "::1");
    BOOST_TEST(o->host_header == "[::1]:8443");
    BOOST_TEST(o->host_is_ip);
}

BOOST_AUTO_TEST_CASE(base_url_refuses_other_schemes_userinfo_query_fragment_and_says_why)
{
    const std::pair<const char*, const char*> cases[] = {
        {"ftp://x", "scheme"},
        {"api.stackone.com", "not an absolute URL"},
        {"", "not an absolute URL"},
        {"https://", "no host"},
        {"https://u:p@host", "user info"},
        {"https://host?x=1", "query"},
        {"https://host#f", "fragment"},
        {"https://host:0", "port must be from 1 to 65535"},
        {"https://host:99999", "port must be from 1 to 65535"},
        {"http:/x", "no host"},
    };
    for (const auto& [bad, why] : cases)
    {
        BOOST_TEST_CONTEXT(bad)
        {
            std::string_view reason;
            auto o = parse_base_url(bad, &reason);
            BOOST_TEST(o.has_error());
            BOOST_TEST(reason.find(why) != std::string_view::npos, reason);
        }
    }
}

// Found by test/fuzz/fuzz_base_url: Boost.URL 1.81 reads "http://127.0.0.1:808per0f/v1" as
// port 808 and path "per0f/v1", which became the request target "per0f/v1/unified/...".
BOOST_AUTO_TEST_CASE(base_url_refuses_garbage_after_the_port)
{
    for (const char* bad : {"http://127.0.0.1:808per0f/ix/v1/",
                            "http://localhost:8)",
                            "https://api.stackone.com:443x"})
    {
        BOOST_TEST_CONTEXT(bad)
        {
            auto o = parse_base_url(bad);
            BOOST_TEST(o.error() == make_error_code(errc::invalid_base_url));
        }
    }
    BOOST_TEST(parse_base_url("http://localhost:8/)").value().path_prefix == "/)");
}

BOOST_AUTO_TEST_CASE(request_bytes_have_every_required_header)
{
    auto o = parse_base_url("https://api.stackone.com");
    BOOST_TEST_REQUIRE(o.has_value());
    const std::string fixed = render_fixed_headers(*o, "sk_test", "ua/1");
    const std::string req =
        render_request(*o, fixed, encode_path_segment("c 1"), "acc-1", true, "{}");
    BOOST_TEST(req == "POST /unified/ats/candidates/c%201/notes HTTP/1.1\r\n"
                      "Host: api.stackone.com\r\n"
                      "Authorization: Basic c2tfdGVzdDo=\r\n"
                      "User-Agent: ua/1\r\n"
                      "Content-Type: application/json\r\n"
                      "Accept: application/json\r\n"
                      "x-account-id: acc-1\r\n"
                      "Prefer: heartbeat\r\n"
                      "Content-Length: 2\r\n"
                      "\r\n"
                      "{}");
}

BOOST_AUTO_TEST_CASE(request_without_heartbeat_has_no_prefer_and_no_cookie)
{
    auto o = parse_base_url("http://127.0.0.1:1/p");
    const std::string req =
        render_request(*o, render_fixed_headers(*o, "k", "u"), "c", "a", false, "{\"x\":1}");
    BOOST_TEST(req.find("Prefer") == std::string::npos);
    BOOST_TEST(req.find("Cookie") == std::string::npos);
    BOOST_TEST(req.find("POST /p/unified/ats/candidates/c/notes HTTP/1.1\r\n") == 0u);
    BOOST_TEST(req.find("Content-Length: 7\r\n\r\n{\"x\":1}") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
