//
// Sans-I/O request encoding: base URL, path segment, Basic auth, header checks, the request
// bytes. No sockets; unit-tested directly.
//
#ifndef STACKONE_DETAIL_REQUEST_HPP
#define STACKONE_DETAIL_REQUEST_HPP

#include <stackone/error.hpp>

#include <boost/system/result.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace stackone::detail {

// Where requests go: scheme, host, port and an optional path prefix, from the base URL.
struct origin
{
    bool tls = true;
    std::string host; // without brackets for IPv6 literals
    std::uint16_t port = 443;
    std::string host_header; // "host" or "host:port" (port only when not the default)
    std::string path_prefix; // "" or "/prefix" (no trailing slash)
    bool host_is_ip = false; // IP literals get no SNI and are verified as IP addresses
};

// Parses the base URL. Accepts http:// and https:// with host, optional port and path; refuses
// user info (a key in a URL would leak), queries and fragments. On failure, @p why (when given)
// says what is wrong, for the user.
inline boost::system::result<origin> parse_base_url(std::string_view text,
                                                    std::string_view* why = nullptr) noexcept
{
    const auto refuse = [why](std::string_view reason) {
        if (why)
            *why = reason;
        return make_error_code(errc::invalid_base_url);
    };
    // parse_uri, not parse_absolute_uri: a fragment is then refused by name below.
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed)
        return refuse("not an absolute URL such as https://api.stackone.com");
    const boost::urls::url_view u = *parsed;

    origin o;
    const auto scheme = u.scheme_id();
    if (scheme == boost::urls::scheme::https)
        o.tls = true;
    else if (scheme == boost::urls::scheme::http)
        o.tls = false;
    else
        return refuse("the scheme must be http or https");

    if (!u.has_authority())
        return refuse("no host");
    if (u.has_userinfo())
        return refuse("user info (user:password@) is not allowed");
    if (u.has_query())
        return refuse("a query (?...) is not allowed");
    if (u.has_fragment())
        return refuse("a fragment (#...) is not allowed");

    try
    {
        switch (u.host_type())
        {
        case boost::urls::host_type::name:
            o.host = u.encoded_host().decode();
            break;
        case boost::urls::host_type::ipv4:
            o.host = std::string(u.encoded_host());
            o.host_is_ip = true;
            break;
        case boost::urls::host_type::ipv6:
            o.host = std::string(u.encoded_host_address());
            o.host_is_ip = true;
            break;
        default:
            return refuse("the host must be a name or an IP address");
        }
    }
    catch (...)
    {
        return refuse("the host cannot be read");
    }
    if (o.host.empty())
        return refuse("no host");

    o.port = o.tls ? 443 : 80;
    if (u.has_port())
    {
        // port_number() wraps values over 65535, so the digits are checked here.
        const auto digits = u.port();
        if (digits.empty() || digits.size() > 5 || std::stoul(std::string(digits)) > 65535 ||
            u.port_number() == 0)
            return refuse("the port must be from 1 to 65535");
        o.port = u.port_number();
    }

    o.host_header = std::string(u.encoded_host());
    if (o.port != (o.tls ? 443 : 80))
        o.host_header += ":" + std::to_string(o.port);

    // Boost.URL 1.81 takes "http://host:8x/p" as port 8 and path "x/p"; a path after an
    // authority starts with '/', so anything else is a mistyped port or host.
    o.path_prefix = std::string(u.encoded_path());
    if (!o.path_prefix.empty() && o.path_prefix.front() != '/')
        return refuse("the port must be digits only, and a path must start with '/'");
    while (!o.path_prefix.empty() && o.path_prefix.back() == '/')
        o.path_prefix.pop_back();
    return o;
}

// True for RFC 3986 "unreserved" characters, the only ones left as they are in a segment.
constexpr bool is_unreserved(unsigned char c) noexcept
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

// Percent-encodes one path segment: everything but unreserved characters, so `/`, `?`, `#`,
// `%`, space and non-ASCII bytes cannot change the request target.
inline std::string encode_path_segment(std::string_view segment)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(segment.size());
    for (const char ch : segment)
    {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c))
        {
            out.push_back(ch);
        }
        else
        {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        }
    }
    return out;
}

// An id that would make the target ambiguous is refused before sending: an empty segment, or
// the dot segments that URL normalisation would remove.
constexpr bool is_valid_candidate_id(std::string_view id) noexcept
{
    return !id.empty() && id != "." && id != "..";
}

// CR and LF would split a header (request smuggling); NUL is refused by servers.
constexpr bool is_valid_header_value(std::string_view value) noexcept
{
    for (const char c : value)
    {
        if (c == '\r' || c == '\n' || c == '\0')
            return false;
    }
    return true;
}

// Standard base64 with padding, on one line (no wrapping, unlike some encoders).
inline std::string base64_encode(std::string_view in)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3)
    {
        const std::uint32_t n = (std::uint32_t(static_cast<unsigned char>(in[i])) << 16) |
                                (std::uint32_t(static_cast<unsigned char>(in[i + 1])) << 8) |
                                std::uint32_t(static_cast<unsigned char>(in[i + 2]));
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
        out.push_back(alphabet[(n >> 6) & 63]);
        out.push_back(alphabet[n & 63]);
    }
    const std::size_t rest = in.size() - i;
    if (rest > 0)
    {
        std::uint32_t n = std::uint32_t(static_cast<unsigned char>(in[i])) << 16;
        if (rest == 2)
            n |= std::uint32_t(static_cast<unsigned char>(in[i + 1])) << 8;
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
        out.push_back(rest == 2 ? alphabet[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

// `Authorization` value for a StackOne key: Basic with the key as user and an empty password.
inline std::string basic_auth_value(std::string_view api_key)
{
    std::string credentials(api_key);
    credentials.push_back(':');
    return "Basic " + base64_encode(credentials);
}

// The headers shared by every request of a client, rendered once: `Host`, `Authorization`,
// `User-Agent`, `Content-Type`, `Accept`, each ending in CRLF.
inline std::string
render_fixed_headers(const origin& o, std::string_view api_key, std::string_view user_agent)
{
    std::string out;
    out.append("Host: ").append(o.host_header).append("\r\n");
    out.append("Authorization: ").append(basic_auth_value(api_key)).append("\r\n");
    out.append("User-Agent: ").append(user_agent).append("\r\n");
    out.append("Content-Type: application/json\r\nAccept: application/json\r\n");
    return out;
}

// The whole request: request line, the fixed headers, the per-call headers, the body.
inline std::string render_request(const origin& o,
                                  std::string_view fixed_headers,
                                  std::string_view encoded_candidate_id,
                                  std::string_view account_id,
                                  bool heartbeat,
                                  std::string_view body)
{
    std::string out;
    out.reserve(160 + fixed_headers.size() + encoded_candidate_id.size() + account_id.size() +
                body.size());
    out.append("POST ")
        .append(o.path_prefix)
        .append("/unified/ats/candidates/")
        .append(encoded_candidate_id)
        .append("/notes HTTP/1.1\r\n");
    out.append(fixed_headers);
    out.append("x-account-id: ").append(account_id).append("\r\n");
    if (heartbeat)
        out.append("Prefer: heartbeat\r\n");
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    out.append(body);
    return out;
}

} // namespace stackone::detail

#endif
