//
// Copyright (c) 2026 The stackone-notes-cpp authors
//
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

// All of the mock's Asio, Beast and OpenSSL code lives in this one translation unit: Beast's
// templates are slow to compile, and nothing outside needs to see them.
//
// Shape: one accept loop on a strand, one coroutine per connection on its own strand. Beast's
// parser reads requests; responses are small and fixed in shape, so they are serialized by hand
// into a reused string and written with one write call (one TLS record, no serializer templates,
// and byte-level control for scripted misbehaviour).

#include "mock_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
// g++ 12 with -fsanitize=address reports a false -Wmaybe-uninitialized inside libstdc++'s
// regex compiler (a known GCC 12 false positive); keep it from failing -Werror builds.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace stackone::mock {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Errors come back as values: a client hanging up is routine, not exceptional.
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t header_limit = 16 * 1024;
constexpr std::size_t body_limit = 1024 * 1024;
constexpr unsigned max_threads = 256;
constexpr std::int64_t max_delay_ms = 3'600'000;
constexpr std::int64_t max_heartbeats = 1'000'000;
constexpr std::size_t max_heartbeat_bytes = 64 * 1024;
constexpr std::int64_t max_keep_alive_s = 86'400;
constexpr auto close_linger = std::chrono::seconds(1);
constexpr auto stop_grace = std::chrono::seconds(5);

constexpr std::string_view notes_prefix = "/unified/ats/candidates/";
constexpr std::string_view notes_suffix = "/notes";
constexpr std::string_view stats_path = "/_mock/stats";
constexpr std::string_view created_message = "Record created successfully.";
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

using header_list = std::vector<std::pair<std::string, std::string>>;

// Named constants: g++ 12 rejects nested braced lists as coroutine arguments.
const header_list no_headers;
const header_list allow_post{{"Allow", "POST"}};
const header_list allow_get{{"Allow", "GET"}};

std::string_view to_std(beast::string_view s) noexcept
{
    return {s.data(), s.size()};
}

json::string_view to_json(std::string_view s) noexcept
{
    return {s.data(), s.size()};
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers
// ---------------------------------------------------------------------------------------------

/// RFC 3339 UTC with milliseconds, the shape StackOne uses: 2026-12-03T17:40:01.123Z.
std::string rfc3339_now()
{
    using namespace std::chrono;
    const auto since_epoch = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
    const auto seconds = static_cast<std::time_t>(since_epoch.count() / 1000);
    const auto millis = static_cast<int>(since_epoch.count() % 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::array<char, 64> text{};
    const int n = std::snprintf(text.data(),
                                text.size(),
                                "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                utc.tm_year + 1900,
                                utc.tm_mon + 1,
                                utc.tm_mday,
                                utc.tm_hour,
                                utc.tm_min,
                                utc.tm_sec,
                                millis);
    return std::string(text.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string base64_encode(std::string_view in)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);

    const auto byte = [&](std::size_t i) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]));
    };
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3)
    {
        const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }

    // Pad the last group to four characters, as RFC 4648 requires.
    const std::size_t rest = in.size() - i;
    if (rest == 1)
    {
        const std::uint32_t v = byte(i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
    }
    else if (rest == 2)
    {
        const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
    {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f')
    {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F')
    {
        return c - 'A' + 10;
    }
    return -1;
}

/// Decodes one percent-encoded path segment; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in)
{
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i)
    {
        if (in[i] != '%')
        {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size())
        {
            return std::nullopt;
        }
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0)
        {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

/// True for `application/json`, with or without parameters such as `; charset=utf-8`.
bool is_json_media_type(std::string_view value) noexcept
{
    value = value.substr(0, value.find(';'));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    {
        value.remove_suffix(1);
    }
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    {
        value.remove_prefix(1);
    }
    return beast::iequals(value, "application/json");
}

/// True when `value` is safe to put in a header field: no control characters but tab.
bool is_header_value(std::string_view value) noexcept
{
    for (const char c : value)
    {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f)
        {
            return false;
        }
    }
    return true;
}

/// True when `name` is an RFC 9110 token.
bool is_header_name(std::string_view name) noexcept
{
    if (name.empty())
    {
        return false;
    }
    for (const char c : name)
    {
        const bool alnum =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
        {
            return false;
        }
    }
    return true;
}

std::string_view reason_phrase(unsigned status) noexcept
{
    const auto s = http::int_to_status(status);
    if (s == http::status::unknown)
    {
        return "Unknown";
    }
    return to_std(http::obsolete_reason(s));
}

/// The message StackOne puts in its error bodies, per the OpenAPI examples.
std::string_view default_message(unsigned status) noexcept
{
    switch (status)
    {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden resource";
    case 404:
        return "Not Found";
    case 408:
        return "Request timed out";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too many requests";
    case 500:
        return "Internal server error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    default:
        return reason_phrase(status);
    }
}

/// Checks a parsed body against `AtsCreateNotesRequestDto`. Returns the first violation,
/// naming the field path, or nullopt. Unknown properties are allowed, as in the spec.
std::optional<std::string> validate_note(const json::object& note)
{
    if (const auto* content = note.if_contains("content"); content && !content->is_null())
    {
        const auto* items = content->if_array();
        if (!items)
        {
            return "content must be an array or null";
        }
        for (std::size_t i = 0; i < items->size(); ++i)
        {
            const auto where = "content[" + std::to_string(i) + "]";
            const auto* item = (*items)[i].if_object();
            if (!item)
            {
                return where + " must be an object";
            }
            const auto* body = item->if_contains("body");
            if (body && !body->is_null() && !body->is_string())
            {
                return where + ".body must be a string or null";
            }
        }
    }

    if (const auto* author = note.if_contains("author_id"))
    {
        if (!author->is_null() && !author->is_string())
        {
            return "author_id must be a string or null";
        }
    }

    // `visibility` is an object even though the spec's own example shows a bare string.
    if (const auto* visibility = note.if_contains("visibility");
        visibility && !visibility->is_null())
    {
        const auto* fields = visibility->if_object();
        if (!fields)
        {
            return "visibility must be an object or null";
        }
        if (const auto* value = fields->if_contains("value"); value && !value->is_null())
        {
            const auto* text = value->if_string();
            if (!text || (*text != "private" && *text != "public" && *text != "unmapped_value"))
            {
                return "visibility.value must be one of \"private\", \"public\", "
                       "\"unmapped_value\" or null";
            }
        }
    }

    if (const auto* passthrough = note.if_contains("passthrough"))
    {
        if (!passthrough->is_null() && !passthrough->is_object())
        {
            return "passthrough must be an object or null";
        }
    }
    return std::nullopt;
}

std::uint64_t splitmix64(std::uint64_t x) noexcept
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

bool is_disconnect(const error_code& ec) noexcept
{
    return ec == http::error::end_of_stream || ec == http::error::partial_message ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::connection_aborted || ec == asio::error::operation_aborted ||
           ec == asio::error::bad_descriptor || ec == asio::error::broken_pipe ||
           ec == asio::error::not_connected || ec == ssl::error::stream_truncated;
}

void report_exception(std::exception_ptr failure) noexcept
{
    if (!failure)
    {
        return;
    }
    try
    {
        std::rethrow_exception(failure);
    }
    catch (const std::exception& e)
    {
        std::cerr << "stackone-mock: a connection ended with an exception: " << e.what() << '\n';
    }
    catch (...)
    {
        std::cerr << "stackone-mock: a connection ended with an unknown exception\n";
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: compiled once when set, so a request only runs the prepared regexes
// ---------------------------------------------------------------------------------------------

/// What a step does with the connection. Faults in the middle of an answer (heartbeats, stalls,
/// closes after the headers or mid-body) are `respond` with the step's response fields set.
enum class step_action
{
    respond,           // answer with the step's status, headers and body
    close_before_read, // close once the headers passed their checks, without reading the body
    close_after_read,  // read the whole request, then close without answering
    reset,             // read the whole request, then close with a TCP RST (SO_LINGER 0)
};

/// How the final body is delimited on the wire.
enum class body_framing
{
    content_length, // `Content-Length` (the default without heartbeats)
    chunked,        // `Transfer-Encoding: chunked` (the default with heartbeats)
    close,          // no length and no chunking: the body ends when the connection closes
};

/// What follows the bytes of a `raw` step.
enum class raw_end
{
    close,     // close properly (FIN; TLS: close_notify first)
    reset,     // close with a TCP RST, as a server that crashed
    stall,     // send nothing more; keep the connection until the client closes it
    keep_open, // serve the next request on the same connection
};

/// Whitespace sent after the headers while the "provider" works, before the final body.
struct heartbeat_plan
{
    std::uint64_t count = 0;
    std::chrono::milliseconds interval{1000};
    std::string bytes = "\n";
    bool force = false; // `Preference-Applied: heartbeat` even when the request did not ask
};

struct step
{
    unsigned status = 201;               // the outcome: body statusCode, and whether 2xx creates
    std::optional<unsigned> status_line; // the status line, when it differs from `status`
    header_list headers;
    bool connection_close = false; // the step set `Connection: close`
    std::optional<std::string> message;
    std::optional<json::value> provider_errors;
    json::object fields; // merged into the generated body
    std::optional<json::value> body;
    std::chrono::milliseconds delay{0};
    step_action action = step_action::respond;
    std::uint64_t times = 1; // 0 = forever

    std::optional<heartbeat_plan> heartbeats;
    std::optional<body_framing> framing; // absent: chosen by whether there are heartbeats
    bool mix_heartbeats = false;         // heartbeat bytes, extensions and a trailer in the body
    std::size_t chunk_size = 0;          // 0 = the final body in one chunk
    std::optional<std::uint64_t> stall_after_heartbeats;
    std::optional<std::uint64_t> close_after_heartbeats;
    bool close_mid_body = false;
    bool close_after_response = false; // close without announcing it (no `Connection: close`)
    bool close_notify = false;         // the closes above end TLS properly
    bool key_update = false;           // TLS 1.3: a key update asking for the client's first
    // TLS 1.3, with stall_after_heartbeats: while stalled, a key update (not asking for the
    // client's) this often: TLS records that carry no HTTP byte. 0 = none.
    std::chrono::milliseconds stall_key_updates{0};
    std::optional<bool> creates; // absent: a 2xx status creates the note

    // `raw`: bytes written verbatim instead of an answer, then `raw_then` (see raw_step_*).
    std::optional<std::string> raw;
    raw_end raw_then = raw_end::close;
    std::optional<std::string> raw_repeat; // sent again and again after `raw`, never ending
    std::chrono::milliseconds raw_repeat_interval{0};

    body_framing effective_framing() const
    {
        if (framing)
        {
            return *framing;
        }
        return heartbeats ? body_framing::chunked : body_framing::content_length;
    }

    unsigned line_status() const { return status_line.value_or(status); }

    std::uint64_t heartbeat_count() const { return heartbeats ? heartbeats->count : 0; }

    /// The bytes of one heartbeat, also mixed into the body by `mix_heartbeats`.
    std::string_view heartbeat_bytes() const
    {
        if (heartbeats)
        {
            return heartbeats->bytes;
        }
        return "\n";
    }

    /// False when the step stalls or closes before its final body.
    bool finishes() const { return !stall_after_heartbeats && !close_after_heartbeats; }
};

struct rule
{
    std::optional<std::regex> candidate_pattern;
    std::optional<std::regex> account_pattern;
    std::vector<std::shared_ptr<const step>> steps;

    // Requests seen by this rule, per decoded candidate id.
    std::unordered_map<std::string, std::uint64_t> seen;

    bool matches(std::string_view candidate_id, std::string_view account_id) const
    {
        if (candidate_pattern &&
            !std::regex_search(candidate_id.begin(), candidate_id.end(), *candidate_pattern))
        {
            return false;
        }
        return !account_pattern ||
               std::regex_search(account_id.begin(), account_id.end(), *account_pattern);
    }

    /// The step for the request numbered `k` (from 0), or null once the steps are used up.
    std::shared_ptr<const step> step_at(std::uint64_t k) const
    {
        for (const auto& s : steps)
        {
            if (s->times == 0 || k < s->times)
            {
                return s;
            }
            k -= s->times;
        }
        return nullptr;
    }
};

[[noreturn]] void scenario_error(const std::string& where, const std::string& what)
{
    throw std::runtime_error("scenario: " + where + " " + what);
}

bool is_comment_key(std::string_view key) noexcept
{
    return key == "description" || key == "comment";
}

std::optional<std::int64_t> as_integer(const json::value& v)
{
    if (!v.is_number())
    {
        return std::nullopt;
    }
    error_code ec;
    const auto n = v.to_number<std::int64_t>(ec);
    if (ec)
    {
        return std::nullopt;
    }
    return n;
}

std::regex compile_pattern(const json::value& v, const std::string& where)
{
    const auto* text = v.if_string();
    if (!text)
    {
        scenario_error(where, "must be a string (an ECMAScript regular expression)");
    }
    try
    {
        return std::regex(
            text->c_str(), text->size(), std::regex::ECMAScript | std::regex::optimize);
    }
    catch (const std::regex_error& e)
    {
        scenario_error(where, std::string("is not a valid regular expression: ") + e.what());
    }
}

step_action parse_action(const json::value& v, const std::string& where)
{
    const auto* text = v.if_string();
    if (text && *text == "close_before_read")
    {
        return step_action::close_before_read;
    }
    if (text && *text == "close_after_read")
    {
        return step_action::close_after_read;
    }
    if (text && *text == "reset")
    {
        return step_action::reset;
    }
    scenario_error(where,
                   "must be one of \"close_before_read\", \"close_after_read\" or \"reset\"");
}

/// An integer from `low` to `high`, or a scenario error naming `where`.
std::int64_t
integer_in(const json::value& v, const std::string& where, std::int64_t low, std::int64_t high)
{
    const auto n = as_integer(v);
    if (!n || *n < low || *n > high)
    {
        scenario_error(where,
                       "must be an integer from " + std::to_string(low) + " to " +
                           std::to_string(high));
    }
    return *n;
}

bool boolean_at(const json::value& v, const std::string& where)
{
    if (!v.is_bool())
    {
        scenario_error(where, "must be true or false");
    }
    return v.get_bool();
}

heartbeat_plan parse_heartbeats(const json::value& v, const std::string& where)
{
    const auto* fields = v.if_object();
    if (!fields)
    {
        scenario_error(where, "must be an object (count, interval_ms, bytes, force)");
    }

    heartbeat_plan plan;
    bool has_count = false;
    for (const auto& [key, value] : *fields)
    {
        const std::string at = where + "." + std::string(key);
        if (key == "count")
        {
            plan.count = static_cast<std::uint64_t>(integer_in(value, at, 0, max_heartbeats));
            has_count = true;
        }
        else if (key == "interval_ms")
        {
            plan.interval = std::chrono::milliseconds(integer_in(value, at, 0, max_delay_ms));
        }
        else if (key == "bytes")
        {
            // An empty heartbeat would be a zero-size chunk, which ends a chunked body.
            const auto* text = value.if_string();
            if (!text || text->empty() || text->size() > max_heartbeat_bytes)
            {
                scenario_error(at,
                               "must be a non-empty string of at most " +
                                   std::to_string(max_heartbeat_bytes) + " bytes");
            }
            plan.bytes = std::string(*text);
        }
        else if (key == "force")
        {
            plan.force = boolean_at(value, at);
        }
        else if (!is_comment_key(key))
        {
            scenario_error(at, "is not a heartbeats field (count, interval_ms, bytes, force)");
        }
    }
    if (!has_count)
    {
        scenario_error(where, "needs a \"count\"");
    }
    return plan;
}

body_framing parse_framing(const json::value& v, const std::string& where)
{
    const auto* text = v.if_string();
    if (text && *text == "content-length")
    {
        return body_framing::content_length;
    }
    if (text && *text == "chunked")
    {
        return body_framing::chunked;
    }
    if (text && *text == "close")
    {
        return body_framing::close;
    }
    scenario_error(where, "must be one of \"content-length\", \"chunked\" or \"close\"");
}

/// Rejects response fields that contradict each other: a scenario that silently does something
/// else than its author meant is worse than one that does not load.
void check_response_fields(const step& s, const std::string& where)
{
    const bool shapes_body = s.heartbeats || s.framing || s.mix_heartbeats || s.chunk_size > 0 ||
                             s.stall_after_heartbeats || s.close_after_heartbeats ||
                             s.close_mid_body;
    const bool scripts_response =
        shapes_body || s.status_line || s.close_after_response || s.close_notify;
    if (scripts_response && s.action != step_action::respond)
    {
        scenario_error(where + ".action",
                       "cannot be combined with status_line, heartbeats, framing or the "
                       "close_* / stall_* fields (an action never answers)");
    }

    // RFC 9110, 6.4.1: these two never carry content, so there is nothing to stream.
    const unsigned line = s.line_status();
    if (shapes_body && (line == 204 || line == 304))
    {
        scenario_error(where + (s.status_line ? ".status_line" : ".status"),
                       "is " + std::to_string(line) +
                           ", which has no body: heartbeats, framing and body faults need one");
    }

    if (s.stall_after_heartbeats && s.close_after_heartbeats)
    {
        scenario_error(where + ".close_after_heartbeats",
                       "cannot be combined with stall_after_heartbeats");
    }
    const auto check_stop = [&](const std::optional<std::uint64_t>& k, const char* name) {
        if (k && *k > s.heartbeat_count())
        {
            scenario_error(where + "." + name,
                           s.heartbeats ? "must not exceed heartbeats.count (" +
                                              std::to_string(s.heartbeat_count()) + ")"
                                        : std::string("must be 0 when the step has no heartbeats"));
        }
    };
    check_stop(s.stall_after_heartbeats, "stall_after_heartbeats");
    check_stop(s.close_after_heartbeats, "close_after_heartbeats");

    if (s.stall_key_updates.count() > 0 && !s.stall_after_heartbeats)
    {
        scenario_error(where + ".stall_key_updates_ms", "needs stall_after_heartbeats");
    }
    if (s.close_mid_body && !s.finishes())
    {
        scenario_error(where + ".close_mid_body",
                       "cannot be combined with stall_after_heartbeats or "
                       "close_after_heartbeats (the body is never sent)");
    }
    if (s.close_after_response && (s.close_mid_body || !s.finishes()))
    {
        scenario_error(where + ".close_after_response",
                       "cannot be combined with close_mid_body, stall_after_heartbeats or "
                       "close_after_heartbeats");
    }
    if (s.creates && (s.action != step_action::respond || (*s.creates && !s.finishes())))
    {
        scenario_error(where + ".creates",
                       "cannot be combined with an action, stall_after_heartbeats or "
                       "close_after_heartbeats (the note is created when the body is sent)");
    }
    if (s.close_notify && !s.close_after_heartbeats && !s.close_mid_body && !s.close_after_response)
    {
        scenario_error(where + ".close_notify",
                       "needs close_after_heartbeats, close_mid_body or close_after_response");
    }

    const bool chunked = s.effective_framing() == body_framing::chunked;
    if (s.mix_heartbeats && !chunked)
    {
        scenario_error(where + ".mix_heartbeats",
                       "needs chunked framing (the default with heartbeats)");
    }
    if (s.chunk_size > 0 && !chunked)
    {
        scenario_error(where + ".chunk_size",
                       "needs chunked framing (the default with heartbeats)");
    }
}

// --- `raw` steps: bytes sent verbatim, for answers no well-behaved server gives -------------

constexpr std::size_t max_raw_bytes = 8 * 1024 * 1024;

void parse_raw_field(step& s, std::string_view key, const json::value& value, const std::string& at)
{
    const auto* text = value.if_string();
    if (key == "raw_repeat")
    {
        if (!text || text->empty() || text->size() > max_heartbeat_bytes)
        {
            scenario_error(at,
                           "must be a non-empty string of at most " +
                               std::to_string(max_heartbeat_bytes) + " bytes");
        }
        s.raw_repeat = std::string(*text);
        return;
    }
    if (key == "raw_repeat_interval_ms")
    {
        s.raw_repeat_interval = std::chrono::milliseconds(integer_in(value, at, 0, max_delay_ms));
        return;
    }
    if (key == "raw")
    {
        if (!text || text->empty() || text->size() > max_raw_bytes)
        {
            scenario_error(at,
                           "must be a non-empty string of at most " +
                               std::to_string(max_raw_bytes) + " bytes");
        }
        s.raw = std::string(*text);
        return;
    }
    const std::string_view then = text ? std::string_view(*text) : std::string_view();
    if (text && then == "close")
    {
        s.raw_then = raw_end::close;
    }
    else if (text && then == "reset")
    {
        s.raw_then = raw_end::reset;
    }
    else if (text && then == "stall")
    {
        s.raw_then = raw_end::stall;
    }
    else if (text && then == "keep_open")
    {
        s.raw_then = raw_end::keep_open;
    }
    else
    {
        scenario_error(at, "must be one of \"close\", \"reset\", \"stall\" or \"keep_open\"");
    }
}

/// A `raw` step answers with its bytes alone: every field that shapes an answer would be
/// silently ignored, so it is refused instead.
void check_raw_step(const json::object& fields, const step& s, const std::string& where)
{
    if (!s.raw)
    {
        for (const char* key : {"raw_then", "raw_repeat", "raw_repeat_interval_ms"})
        {
            if (fields.contains(key))
            {
                scenario_error(where + "." + key, "needs \"raw\"");
            }
        }
        return;
    }
    for (const auto& [key, value] : fields)
    {
        if (!key.starts_with("raw") && key != "times" && key != "delay_ms" && !is_comment_key(key))
        {
            scenario_error(where + "." + std::string(key),
                           "cannot be combined with raw (only raw_then, raw_repeat, "
                           "raw_repeat_interval_ms, times and delay_ms can)");
        }
    }
    if (s.raw_repeat && fields.contains("raw_then"))
    {
        scenario_error(where + ".raw_then", "cannot be combined with raw_repeat (it never ends)");
    }
    if (!s.raw_repeat && fields.contains("raw_repeat_interval_ms"))
    {
        scenario_error(where + ".raw_repeat_interval_ms", "needs \"raw_repeat\"");
    }
}

std::shared_ptr<const step> compile_step(const json::value& v, const std::string& where)
{
    const auto* fields = v.if_object();
    if (!fields)
    {
        scenario_error(where, "must be an object");
    }

    auto s = std::make_shared<step>();
    for (const auto& [key, value] : *fields)
    {
        const std::string at = where + "." + std::string(key);
        if (key == "status")
        {
            s->status = static_cast<unsigned>(integer_in(value, at, 200, 599));
        }
        else if (key == "status_line")
        {
            s->status_line = static_cast<unsigned>(integer_in(value, at, 200, 599));
        }
        else if (key == "headers")
        {
            const auto* headers = value.if_object();
            if (!headers)
            {
                scenario_error(at, "must be an object of strings");
            }
            for (const auto& [name, header_value] : *headers)
            {
                const std::string field_at = at + "." + std::string(name);
                const auto* text = header_value.if_string();
                if (!text || !is_header_value(*text))
                {
                    scenario_error(field_at, "must be a string without control characters");
                }
                if (!is_header_name(name))
                {
                    scenario_error(field_at, "is not a valid header name");
                }

                // Framing is the mock's job: a wrong length would break every later test.
                if (beast::iequals(name, "content-length") ||
                    beast::iequals(name, "transfer-encoding"))
                {
                    scenario_error(field_at,
                                   "cannot be scripted (the mock frames the body; see framing)");
                }
                if (beast::iequals(name, "connection"))
                {
                    s->connection_close = beast::iequals(*text, "close");
                    continue;
                }
                s->headers.emplace_back(std::string(name), std::string(*text));
            }
        }
        else if (key == "message")
        {
            const auto* text = value.if_string();
            if (!text)
            {
                scenario_error(at, "must be a string");
            }
            s->message = std::string(*text);
        }
        else if (key == "provider_errors")
        {
            s->provider_errors = value;
        }
        else if (key == "fields")
        {
            const auto* extra = value.if_object();
            if (!extra)
            {
                scenario_error(at, "must be an object");
            }
            s->fields = *extra;
        }
        else if (key == "body")
        {
            s->body = value;
        }
        else if (key == "delay_ms")
        {
            s->delay = std::chrono::milliseconds(integer_in(value, at, 0, max_delay_ms));
        }
        else if (key == "action")
        {
            s->action = parse_action(value, at);
        }
        else if (key == "times")
        {
            const auto times = as_integer(value);
            if (!times || *times < 0)
            {
                scenario_error(at, "must be a non-negative integer (0 means forever)");
            }
            s->times = static_cast<std::uint64_t>(*times);
        }
        else if (key == "heartbeats")
        {
            s->heartbeats = parse_heartbeats(value, at);
        }
        else if (key == "framing")
        {
            s->framing = parse_framing(value, at);
        }
        else if (key == "mix_heartbeats")
        {
            s->mix_heartbeats = boolean_at(value, at);
        }
        else if (key == "chunk_size")
        {
            s->chunk_size = static_cast<std::size_t>(integer_in(value, at, 1, body_limit));
        }
        else if (key == "stall_after_heartbeats")
        {
            s->stall_after_heartbeats =
                static_cast<std::uint64_t>(integer_in(value, at, 0, max_heartbeats));
        }
        else if (key == "close_after_heartbeats")
        {
            s->close_after_heartbeats =
                static_cast<std::uint64_t>(integer_in(value, at, 0, max_heartbeats));
        }
        else if (key == "close_mid_body")
        {
            s->close_mid_body = boolean_at(value, at);
        }
        else if (key == "close_after_response")
        {
            s->close_after_response = boolean_at(value, at);
        }
        else if (key == "close_notify")
        {
            s->close_notify = boolean_at(value, at);
        }
        else if (key == "key_update")
        {
            s->key_update = boolean_at(value, at);
        }
        else if (key == "stall_key_updates_ms")
        {
            s->stall_key_updates = std::chrono::milliseconds(integer_in(value, at, 1, 60000));
        }
        else if (key == "creates")
        {
            s->creates = boolean_at(value, at);
        }
        else if (key == "raw" || key == "raw_then" || key == "raw_repeat" ||
                 key == "raw_repeat_interval_ms")
        {
            parse_raw_field(*s, key, value, at);
        }
        else if (!is_comment_key(key))
        {
            scenario_error(at,
                           "is not a step field (status, status_line, headers, message, "
                           "provider_errors, fields, body, delay_ms, action, times, heartbeats, "
                           "framing, mix_heartbeats, chunk_size, stall_after_heartbeats, "
                           "close_after_heartbeats, close_mid_body, close_after_response, "
                           "close_notify, key_update, stall_key_updates_ms, creates, raw, "
                           "raw_then, raw_repeat, raw_repeat_interval_ms)");
        }
    }
    check_response_fields(*s, where);
    check_raw_step(*fields, *s, where);
    return s;
}

rule compile_rule(const json::value& v, const std::string& where)
{
    const auto* fields = v.if_object();
    if (!fields)
    {
        scenario_error(where, "must be an object");
    }

    rule r;
    bool has_steps = false;
    for (const auto& [key, value] : *fields)
    {
        const std::string at = where + "." + std::string(key);
        if (key == "candidate_id")
        {
            r.candidate_pattern = compile_pattern(value, at);
        }
        else if (key == "account_id")
        {
            r.account_pattern = compile_pattern(value, at);
        }
        else if (key == "steps")
        {
            const auto* steps = value.if_array();
            if (!steps)
            {
                scenario_error(at, "must be an array");
            }
            for (std::size_t i = 0; i < steps->size(); ++i)
            {
                r.steps.push_back(compile_step((*steps)[i], at + "[" + std::to_string(i) + "]"));
            }
            has_steps = true;
        }
        else if (!is_comment_key(key))
        {
            scenario_error(at, "is not a rule field (candidate_id, account_id, steps)");
        }
    }
    if (!has_steps)
    {
        scenario_error(where, "needs a \"steps\" array");
    }
    return r;
}

std::vector<rule> compile_scenario(const json::value& scenario)
{
    std::vector<rule> rules;
    if (scenario.is_null())
    {
        return rules;
    }

    const auto* top = scenario.if_object();
    if (!top)
    {
        throw std::runtime_error("scenario: must be a JSON object with a \"rules\" array");
    }
    for (const auto& [key, value] : *top)
    {
        if (key != "rules" && key != "random" && !is_comment_key(key))
        {
            scenario_error(std::string(key), "is not a scenario field (rules, random)");
        }
    }

    const auto* list = top->if_contains("rules");
    if (!list || list->is_null())
    {
        return rules;
    }
    const auto* items = list->if_array();
    if (!items)
    {
        scenario_error("rules", "must be an array");
    }
    for (std::size_t i = 0; i < items->size(); ++i)
    {
        rules.push_back(compile_rule((*items)[i], "rules[" + std::to_string(i) + "]"));
    }
    return rules;
}

// ---------------------------------------------------------------------------------------------
// Random faults: a seeded mix of steps for the requests no rule scripts (the chaos soak)
// ---------------------------------------------------------------------------------------------

/// The knobs of the random mode that shape its steps (all short: a soak must finish).
struct random_params
{
    std::string retry_after = "1";
    std::int64_t heartbeat_count = 3;
    std::int64_t heartbeat_interval_ms = 50;
    std::int64_t delay_ms = 100;
};

/// One kind of answer in the mix. `play` is null for `created`, the unscripted 201.
struct random_kind
{
    std::string_view name;
    std::uint64_t weight = 0;
    std::shared_ptr<const step> play;
    bool before_body = false; // a close_before_read step: picked before the body is read
};

/// A kind's name and default weight. The defaults add up to 1340: three answers in four are a
/// plain 201.
struct random_kind_spec
{
    std::string_view name;
    std::uint64_t default_weight;
};

constexpr std::array<random_kind_spec, 25> random_kind_specs{{
    {"created", 1000},
    {"slow", 30},
    {"rate_limited_retry_after", 25},
    {"rate_limited", 25},
    {"request_timeout_retry_after", 15},
    {"request_timeout", 15},
    {"request_timeout_created", 10},
    {"bad_gateway", 20},
    {"bad_gateway_created", 10},
    {"server_error", 20},
    {"heartbeats", 30},
    {"heartbeats_mixed", 10},
    {"heartbeats_content_length", 10},
    {"stall", 5},
    {"stall_after_heartbeats", 5},
    {"close_before_read", 15},
    {"close_after_read", 15},
    {"reset", 10},
    {"close_after_status_line", 10},
    {"close_after_heartbeats", 10},
    {"close_mid_body", 15},
    {"close_mid_body_notify", 5},
    {"close_after_response", 20},
    {"close_delimited", 5},
    {"close_delimited_no_notify", 5},
}};

/// The step a kind plays, in the scenario's own step format; null for `created`.
json::value random_step_json(std::string_view name, const random_params& p)
{
    const json::object beats{{"count", p.heartbeat_count},
                             {"interval_ms", p.heartbeat_interval_ms}};
    const json::object retry_after{{"Retry-After", p.retry_after}};
    const json::object steps{
        {"slow", json::object{{"delay_ms", p.delay_ms}}},
        {"rate_limited_retry_after", json::object{{"status", 429}, {"headers", retry_after}}},
        {"rate_limited", json::object{{"status", 429}}},
        {"request_timeout_retry_after", json::object{{"status", 408}, {"headers", retry_after}}},
        {"request_timeout", json::object{{"status", 408}}},
        {"request_timeout_created", json::object{{"status", 408}, {"creates", true}}},
        {"bad_gateway_created", json::object{{"status", 502}, {"creates", true}}},
        {"bad_gateway", json::object{{"status", 502}}},
        {"server_error", json::object{{"status", 500}}},
        {"heartbeats", json::object{{"status_line", 200}, {"status", 201}, {"heartbeats", beats}}},
        {"heartbeats_mixed",
         json::object{{"status_line", 200},
                      {"status", 201},
                      {"heartbeats", beats},
                      {"mix_heartbeats", true}}},
        {"heartbeats_content_length",
         json::object{{"heartbeats", beats}, {"framing", "content-length"}}},
        {"stall", json::object{{"stall_after_heartbeats", 0}}},
        {"stall_after_heartbeats",
         json::object{{"heartbeats", beats}, {"stall_after_heartbeats", 1}}},
        {"close_before_read", json::object{{"action", "close_before_read"}}},
        {"close_after_read", json::object{{"action", "close_after_read"}}},
        {"reset", json::object{{"action", "reset"}}},
        {"close_after_status_line", json::object{{"close_after_heartbeats", 0}}},
        {"close_after_heartbeats",
         json::object{{"heartbeats", beats}, {"close_after_heartbeats", 1}}},
        {"close_mid_body", json::object{{"close_mid_body", true}}},
        {"close_mid_body_notify", json::object{{"close_mid_body", true}, {"close_notify", true}}},
        {"close_after_response", json::object{{"close_after_response", true}}},
        {"close_delimited", json::object{{"framing", "close"}}},
        {"close_delimited_no_notify",
         json::object{{"framing", "close"}, {"close_after_response", true}}},
    };
    const auto* found = steps.if_contains(to_json(name));
    return found ? *found : json::value(nullptr);
}

/// The compiled `random` object of a scenario, with its per-candidate request counters.
struct random_mode
{
    std::uint64_t seed = 0;
    std::optional<std::regex> candidate_pattern;
    std::vector<random_kind> kinds;
    std::uint64_t total_weight = 0;
    std::unordered_map<std::string, std::uint64_t> seen; // requests per candidate id
    std::vector<std::uint64_t> picked;                   // requests answered, per kind

    /// The kind for request number `attempt` (from 0) of `candidate_id`: a function of the
    /// seed, the id and the number only, so a run is the same whatever the concurrency.
    std::size_t pick(std::string_view candidate_id, std::uint64_t attempt) const
    {
        std::uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a: stable across builds, unlike std::hash
        for (const char c : candidate_id)
        {
            h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
        }
        const std::uint64_t roll =
            splitmix64(splitmix64(splitmix64(seed) ^ h) + attempt) % total_weight;
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < kinds.size(); ++i)
        {
            sum += kinds[i].weight;
            if (roll < sum)
            {
                return i;
            }
        }
        return 0; // unreachable: roll < total_weight
    }
};

constexpr std::int64_t max_random_seed = 9007199254740991; // 2^53 - 1: exact in any JSON reader

/// Compiles `scenario.random`, or returns nothing when the scenario has none.
std::optional<random_mode> compile_random(const json::value& scenario)
{
    const auto* top = scenario.if_object();
    const auto* v = top ? top->if_contains("random") : nullptr;
    if (!v || v->is_null())
    {
        return std::nullopt;
    }
    const auto* fields = v->if_object();
    if (!fields)
    {
        scenario_error("random",
                       "must be an object (seed, mix, retry_after, heartbeat_count, "
                       "heartbeat_interval_ms, delay_ms, candidate_id)");
    }

    random_mode mode;
    random_params params;
    const json::object* mix = nullptr;
    for (const auto& [key, value] : *fields)
    {
        const std::string at = "random." + std::string(key);
        if (key == "seed")
        {
            mode.seed = static_cast<std::uint64_t>(integer_in(value, at, 0, max_random_seed));
        }
        else if (key == "mix")
        {
            mix = value.if_object();
            if (!mix)
            {
                scenario_error(at, "must be an object of weights, e.g. {\"reset\": 10}");
            }
        }
        else if (key == "retry_after")
        {
            const auto* text = value.if_string();
            if (!text || text->empty() || !is_header_value(*text))
            {
                scenario_error(at, "must be a non-empty header value, e.g. \"1\"");
            }
            params.retry_after = std::string(*text);
        }
        else if (key == "heartbeat_count")
        {
            params.heartbeat_count = integer_in(value, at, 1, 100);
        }
        else if (key == "heartbeat_interval_ms")
        {
            params.heartbeat_interval_ms = integer_in(value, at, 0, 10000);
        }
        else if (key == "delay_ms")
        {
            params.delay_ms = integer_in(value, at, 0, 10000);
        }
        else if (key == "candidate_id")
        {
            mode.candidate_pattern = compile_pattern(value, at);
        }
        else if (!is_comment_key(key))
        {
            scenario_error(at,
                           "is not a random field (seed, mix, retry_after, heartbeat_count, "
                           "heartbeat_interval_ms, delay_ms, candidate_id)");
        }
    }

    // Weights given in `mix` replace the defaults one by one; the others keep theirs.
    std::vector<std::uint64_t> weights;
    for (const auto& spec : random_kind_specs)
    {
        weights.push_back(spec.default_weight);
    }
    if (mix)
    {
        for (const auto& [key, value] : *mix)
        {
            const std::string at = "random.mix." + std::string(key);
            if (is_comment_key(key))
            {
                continue;
            }
            const auto found =
                std::find_if(random_kind_specs.begin(),
                             random_kind_specs.end(),
                             [&](const random_kind_spec& spec) { return spec.name == key; });
            if (found == random_kind_specs.end())
            {
                std::string names;
                for (const auto& spec : random_kind_specs)
                {
                    names += names.empty() ? "" : ", ";
                    names += spec.name;
                }
                scenario_error(at, "is not a kind of answer (" + names + ")");
            }
            weights[static_cast<std::size_t>(found - random_kind_specs.begin())] =
                static_cast<std::uint64_t>(integer_in(value, at, 0, 1000000));
        }
    }

    for (std::size_t i = 0; i < random_kind_specs.size(); ++i)
    {
        random_kind kind;
        kind.name = random_kind_specs[i].name;
        kind.weight = weights[i];
        const auto text = random_step_json(kind.name, params);
        if (!text.is_null())
        {
            kind.play = compile_step(text, "random.mix." + std::string(kind.name));
            kind.before_body = kind.play->action == step_action::close_before_read;
        }
        mode.total_weight += kind.weight;
        mode.kinds.push_back(std::move(kind));
    }
    if (mode.total_weight == 0)
    {
        scenario_error("random.mix", "must give at least one kind a positive weight");
    }
    mode.picked.assign(mode.kinds.size(), 0);
    return mode;
}

// ---------------------------------------------------------------------------------------------
// Response bodies
// ---------------------------------------------------------------------------------------------

struct note_ids
{
    std::string id;
    std::string remote_id;
};

void add_step_fields(json::object& body, const step* s)
{
    if (!s)
    {
        return;
    }
    if (s->provider_errors)
    {
        body["provider_errors"] = *s->provider_errors;
    }
    for (const auto& [key, value] : s->fields)
    {
        body[key] = value;
    }
}

std::string error_body(unsigned status, std::string_view message, const step* s = nullptr)
{
    json::object body;
    body["statusCode"] = status;
    body["message"] = to_json(message);
    body["timestamp"] = rfc3339_now();
    add_step_fields(body, s);
    return json::serialize(body);
}

std::string created_body(const note_ids& ids, const step* s = nullptr)
{
    // The common case is built by hand: it runs once per request in benchmarks, and ids and
    // timestamps never need escaping.
    if (!s)
    {
        std::string body;
        body.reserve(160);
        body += R"({"statusCode":201,"message":")";
        body += created_message;
        body += R"(","timestamp":")";
        body += rfc3339_now();
        body += R"(","data":{"id":")";
        body += ids.id;
        body += R"(","remote_id":")";
        body += ids.remote_id;
        body += R"("}})";
        return body;
    }

    // With only `status`, the body's statusCode stays 201 whatever the status line says (the
    // behaviour older scenarios rely on). With `status_line`, `status` is the outcome the body
    // reports. A scenario overrides either through `fields`.
    json::object body;
    body["statusCode"] = s->status_line ? s->status : 201U;
    body["message"] = to_json(s->message ? *s->message : created_message);
    body["timestamp"] = rfc3339_now();
    body["data"] = {{"id", ids.id}, {"remote_id", ids.remote_id}};
    add_step_fields(body, s);
    return json::serialize(body);
}

/// The final JSON of a `respond` step; `ids` is set for a created note (2xx steps).
std::string step_body(const step& s, const std::optional<note_ids>& ids)
{
    if (s.body)
    {
        return json::serialize(*s.body);
    }
    if (ids)
    {
        return created_body(*ids, &s);
    }
    std::string_view message = default_message(s.status);
    if (s.message)
    {
        message = *s.message;
    }
    return error_body(s.status, message, &s);
}

/// Appends a chunk-size line (RFC 9112, 7.1), with a `;x=1` extension when asked.
void append_chunk_header(std::string& out, std::size_t size, bool extension)
{
    std::array<char, 32> hex{};
    const int n = std::snprintf(hex.data(), hex.size(), "%zx", size);
    out.append(hex.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
    if (extension)
    {
        out += ";x=1";
    }
    out += "\r\n";
}

/// Heartbeat number `index` (from 0) as it goes on the wire: a chunk of its own in a chunked
/// body, the bare bytes otherwise. With `mix_heartbeats`, every other one carries an extension.
std::string heartbeat_unit(const step& s, body_framing framing, std::uint64_t index)
{
    const auto bytes = s.heartbeat_bytes();
    if (framing != body_framing::chunked)
    {
        return std::string(bytes);
    }
    std::string unit;
    append_chunk_header(unit, bytes.size(), s.mix_heartbeats && index % 2 == 0);
    unit += bytes;
    unit += "\r\n";
    return unit;
}

/// The final body as it goes on the wire in `framing`. `cut` receives the wire offset just
/// after the first half of the JSON, where `close_mid_body` stops.
std::string frame_body(const step& s, body_framing framing, std::string_view text, std::size_t& cut)
{
    const std::size_t half = text.size() / 2;
    if (framing != body_framing::chunked)
    {
        cut = half;
        return std::string(text);
    }

    // Mixed heartbeats need several chunks to show up in, so they default to three.
    std::size_t piece_size = text.size();
    if (s.chunk_size > 0)
    {
        piece_size = s.chunk_size;
    }
    else if (s.mix_heartbeats)
    {
        piece_size = std::max<std::size_t>(1, (text.size() + 2) / 3);
    }

    std::string wire;
    cut = std::string::npos;
    std::size_t index = 0;
    for (std::size_t offset = 0; offset < text.size(); offset += piece_size, ++index)
    {
        const auto piece = text.substr(offset, piece_size);

        // Heartbeat bytes lead only the first data chunk: after the first JSON byte, whitespace
        // would be part of the JSON, not a heartbeat.
        std::string_view lead;
        if (s.mix_heartbeats && offset == 0)
        {
            lead = s.heartbeat_bytes();
        }
        append_chunk_header(wire, lead.size() + piece.size(), s.mix_heartbeats && index % 2 == 0);
        wire += lead;
        if (half >= offset && half < offset + piece.size())
        {
            cut = wire.size() + (half - offset);
        }
        wire += piece;
        wire += "\r\n";
    }
    if (cut == std::string::npos)
    {
        cut = wire.size();
    }
    wire += "0\r\n";
    if (s.mix_heartbeats)
    {
        wire += "X-Trailer: 1\r\n";
    }
    wire += "\r\n";
    return wire;
}

/// Strips optional whitespace (spaces and tabs) from both ends.
std::string_view trim_ows(std::string_view value) noexcept
{
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    {
        value.remove_suffix(1);
    }
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    {
        value.remove_prefix(1);
    }
    return value;
}

/// True when a `Prefer` field (RFC 7240) asks for `heartbeat`, in any position of any of the
/// fields, in any case, with or without a value or parameters.
template <class Fields>
bool prefers_heartbeat(const Fields& fields)
{
    const auto range = fields.equal_range("Prefer");
    for (auto it = range.first; it != range.second; ++it)
    {
        auto rest = to_std(it->value());
        while (!rest.empty())
        {
            const auto comma = rest.find(',');
            const auto item = trim_ows(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            if (beast::iequals(item.substr(0, item.find_first_of("=; \t")), "heartbeat"))
            {
                return true;
            }
        }
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

enum class route_kind
{
    notes,
    stats,
    not_found,
    bad_request,
};

struct route
{
    route_kind kind = route_kind::not_found;
    std::string candidate_id; // decoded, for route_kind::notes
    std::string_view path;
};

route classify(std::string_view target)
{
    route r;
    r.path = target.substr(0, target.find_first_of("?#"));
    if (r.path == stats_path)
    {
        r.kind = route_kind::stats;
        return r;
    }
    if (r.path.size() < notes_prefix.size() + notes_suffix.size() ||
        !r.path.starts_with(notes_prefix) || !r.path.ends_with(notes_suffix))
    {
        return r;
    }

    // The id is exactly one non-empty segment; `%2F` inside it is data, not a separator.
    const auto raw = r.path.substr(notes_prefix.size(),
                                   r.path.size() - notes_prefix.size() - notes_suffix.size());
    if (raw.empty() || raw.find('/') != std::string_view::npos)
    {
        return r;
    }
    auto decoded = percent_decode(raw);
    if (!decoded)
    {
        r.kind = route_kind::bad_request;
        return r;
    }
    r.kind = route_kind::notes;
    r.candidate_id = std::move(*decoded);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

/// What the server needs to know about a connection: how to close it from another thread.
class session_base
{
public:
    virtual ~session_base() = default;

    /// Closes the connection; safe from any thread. The session's coroutine then ends.
    virtual void request_close() = 0;

    std::uint64_t registry_id = 0; // 0 = not registered
};

enum class step_pick
{
    before_body, // only a close_before_read step is taken (and counted)
    after_body,  // any step is taken and counted
};

// ---------------------------------------------------------------------------------------------
// server_core: the state shared by the acceptor and every session (server::impl is this)
// ---------------------------------------------------------------------------------------------

class server_core
{
public:
    explicit server_core(server_options opts);
    ~server_core();

    server_core(const server_core&) = delete;
    server_core& operator=(const server_core&) = delete;

    void start();
    void stop();
    unsigned short port() const noexcept { return port_.load(std::memory_order_relaxed); }
    std::string base_url() const;
    stats get_stats() const;
    std::vector<ledger_entry> ledger() const;
    void set_scenario(const json::value& scenario);

    // For sessions.
    const std::string& expected_authorization() const noexcept { return expected_authorization_; }
    std::shared_ptr<const step>
    pick_step(std::string_view candidate_id, std::string_view account_id, step_pick pick);
    std::optional<note_ids>
    record_note(std::string_view candidate_id, std::string_view account_id, json::value note);
    std::optional<note_ids> record_note(note_ids ids,
                                        std::string_view candidate_id,
                                        std::string_view account_id,
                                        json::value note);
    note_ids next_ids();
    json::object random_counts() const;
    std::chrono::milliseconds idle_close() const noexcept { return opts_.idle_close_ms; }
    std::size_t max_body_bytes() const noexcept { return opts_.max_body_bytes; }
    std::optional<std::chrono::seconds> take_rate_slot();
    const std::string& keep_alive_line() const noexcept { return keep_alive_line_; }
    std::string stats_json() const;
    bool register_session(const std::shared_ptr<session_base>& session);
    void unregister_session(std::uint64_t registry_id);

    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_open{0};
    std::atomic<std::uint64_t> tls_handshakes_failed{0};
    std::atomic<std::uint64_t> tls_handshakes_with_sni{0};
    std::atomic<std::uint64_t> tls_key_updates_sent{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> created{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::uint64_t> scripted{0};
    std::atomic<std::uint64_t> heartbeats_sent{0};
    std::atomic<std::uint64_t> connections_closed_idle{0};
    std::atomic<std::uint64_t> rate_limited{0};

private:
    std::shared_ptr<const step> pick_random_step(std::string_view candidate_id, step_pick pick);
    asio::awaitable<void> accept_loop();
    void spawn_session(tcp::socket socket);
    void run_worker();

    // Declaration order matters: everything a session touches when it is destroyed (counters,
    // registry, ledger) is declared before `ioc_`, whose destructor may destroy the last ones.
    server_options opts_;
    asio::ip::address address_;
    std::string expected_authorization_;
    std::string keep_alive_line_; // `Keep-Alive: timeout=S` and CRLF, or empty
    std::atomic<unsigned short> port_{0};

    std::atomic<std::uint64_t> next_id_{0};
    std::uint64_t id_seed_ = 0;

    mutable std::mutex ledger_mutex_;
    std::vector<ledger_entry> ledger_;
    int ledger_fd_ = -1;

    mutable std::mutex scenario_mutex_;
    std::vector<rule> rules_;
    std::optional<random_mode> random_; // scenario.random: for requests no rule scripts
    std::atomic<bool> has_rules_{false};

    std::mutex rate_mutex_; // rate_limit_requests: the current window
    std::chrono::steady_clock::time_point rate_window_start_{};
    std::size_t rate_window_count_ = 0;

    std::mutex sessions_mutex_;
    std::unordered_map<std::uint64_t, std::weak_ptr<session_base>> sessions_;
    std::uint64_t next_session_id_ = 1;
    bool stopping_ = false;

    std::mutex workers_mutex_;
    std::condition_variable workers_done_;
    unsigned running_workers_ = 0;

    enum class lifecycle
    {
        created,
        running,
        stopped,
    };
    std::mutex lifecycle_mutex_;
    lifecycle state_ = lifecycle::created;

    std::optional<ssl::context> tls_context_;
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    std::vector<std::thread> threads_;
};

/// One connection: reads requests one after another and answers each, on the connection's
/// strand. `Stream` is `tcp::socket` or `ssl::stream<tcp::socket>`.
template <class Stream>
class session final : public session_base, public std::enable_shared_from_this<session<Stream>>
{
public:
    static constexpr bool is_tls = !std::is_same_v<Stream, tcp::socket>;

    template <class... Args>
    explicit session(server_core& srv, Args&&... args)
        : srv_(srv), stream_(std::forward<Args>(args)...), timer_(stream_.get_executor()),
          guard_(stream_.get_executor()), idle_timer_(stream_.get_executor())
    {
        srv_.connections_open.fetch_add(1, std::memory_order_relaxed);
    }

    ~session() override
    {
        srv_.unregister_session(registry_id);
        srv_.connections_open.fetch_sub(1, std::memory_order_relaxed);
    }

    session(const session&) = delete;
    session& operator=(const session&) = delete;

    asio::any_io_executor get_executor() { return stream_.get_executor(); }

    /// The coroutine's entry point; `self` keeps the session alive until it returns.
    static asio::awaitable<void> run(std::shared_ptr<session> self) { co_await self->serve(); }

    void request_close() override
    {
        asio::post(stream_.get_executor(),
                   [self = this->shared_from_this()] { self->close_now(); });
    }

private:
    enum class body_read
    {
        ok,
        closed,
        too_large,
        malformed,
    };

    tcp::socket& socket() noexcept
    {
        if constexpr (is_tls)
        {
            return stream_.next_layer();
        }
        else
        {
            return stream_;
        }
    }

    asio::awaitable<void> serve()
    {
        if constexpr (is_tls)
        {
            auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, use_nothrow);
            if (ec)
            {
                // A close by stop() is not the client's failure.
                if (!closing_)
                {
                    srv_.tls_handshakes_failed.fetch_add(1, std::memory_order_relaxed);
                }
                close_now();
                co_return;
            }
            if (SSL_get_servername(stream_.native_handle(), TLSEXT_NAMETYPE_host_name))
            {
                srv_.tls_handshakes_with_sni.fetch_add(1, std::memory_order_relaxed);
            }
        }

        // No co_await in the loop condition: g++ 12 built `while (a && co_await b)` into a
        // coroutine that died with SIGILL.
        while (!closing_)
        {
            const bool keep_going = co_await serve_one();
            if (!keep_going)
            {
                break;
            }
        }
        close_now();
    }

    /// One request and its answer. Returns false when the connection is over.
    asio::awaitable<bool> serve_one()
    {
        // Beast parsers are single-use; the buffer is kept, so pipelined bytes survive.
        parser_.emplace();
        parser_->header_limit(header_limit);
        parser_->body_limit(srv_.max_body_bytes());

        arm_idle_close();
        auto [ec, n] = co_await http::async_read_header(stream_, buffer_, *parser_, use_nothrow);
        awaiting_request_ = false;
        idle_timer_.cancel();
        if (ec)
        {
            if (idle_expired_ && !closing_)
            {
                // Our idle timer cancelled the wait: end politely (close_notify on TLS).
                srv_.connections_closed_idle.fetch_add(1, std::memory_order_relaxed);
                co_await close_gracefully();
                co_return false;
            }
            co_return co_await answer_read_error(ec);
        }
        idle_expired_ = false; // the request beat the timer

        const auto& req = parser_->get();
        // HTTP/1.0 clients get a close even when they ask for keep-alive: simpler framing.
        keep_alive_ = req.version() >= 11 && req.keep_alive();
        expect_continue_ = beast::iequals(req[http::field::expect], "100-continue");
        prefers_heartbeat_ = prefers_heartbeat(req);

        auto target = classify(to_std(req.target()));
        if (target.kind == route_kind::stats)
        {
            co_return co_await serve_stats();
        }

        srv_.requests.fetch_add(1, std::memory_order_relaxed);
        switch (target.kind)
        {
        case route_kind::bad_request:
            co_return co_await reject(400, "Candidate id has a malformed percent-encoding");
        case route_kind::not_found:
            co_return co_await reject(404,
                                      "Cannot " + std::string(to_std(req.method_string())) + " " +
                                          std::string(target.path));
        case route_kind::stats:
        case route_kind::notes:
            break;
        }
        if (req.method() != http::verb::post)
        {
            co_return co_await reject(405, "Method Not Allowed", allow_post);
        }
        co_return co_await serve_note(std::move(target.candidate_id));
    }

    /// `POST /unified/ats/candidates/{id}/notes`: validate, then script or create.
    asio::awaitable<bool> serve_note(std::string candidate_id)
    {
        const auto& req = parser_->get();

        // Checks in the order the brief fixes: auth, account, media type, then the body.
        if (to_std(req[http::field::authorization]) != srv_.expected_authorization())
        {
            co_return co_await reject(401, "Unauthorized");
        }
        const std::string account_id(to_std(req["x-account-id"]));
        if (account_id.empty())
        {
            co_return co_await reject(400,
                                      "Missing required header x-account-id (the linked "
                                      "account id); it must be present and non-empty");
        }
        const auto content_type = to_std(req[http::field::content_type]);
        if (!is_json_media_type(content_type))
        {
            std::string message = "Content-Type must be application/json, got ";
            message += content_type.empty() ? "no Content-Type header" : content_type;
            co_return co_await reject(400, std::move(message));
        }

        // A close_before_read step must act before the body is read, so it is decided here.
        if (auto early = srv_.pick_step(candidate_id, account_id, step_pick::before_body))
        {
            co_return co_await play_step(*early, candidate_id, account_id, nullptr);
        }

        if (expect_continue_ && !parser_->is_done())
        {
            auto [ec, n] = co_await asio::async_write(
                stream_,
                asio::buffer(continue_response.data(), continue_response.size()),
                use_nothrow);
            if (ec || closing_)
            {
                co_return false;
            }
        }
        const auto body_state = co_await read_body();
        switch (body_state)
        {
        case body_read::ok:
            break;
        case body_read::closed:
            co_return false;
        case body_read::too_large:
            keep_alive_ = false;
            co_return co_await reject_read(413,
                                           "Request body is larger than " +
                                               std::to_string(srv_.max_body_bytes()) + " bytes");
        case body_read::malformed:
            keep_alive_ = false;
            co_return co_await reject_read(400, "Malformed HTTP request body");
        }

        const auto& text = parser_->get().body();
        if (text.empty())
        {
            co_return co_await reject_read(400, "Request body is required (a JSON object)");
        }
        error_code ec;
        json::value note = json::parse(text, ec);
        if (ec)
        {
            co_return co_await reject_read(400, "Request body is not valid JSON: " + ec.message());
        }
        if (!note.is_object())
        {
            co_return co_await reject_read(400, "Request body must be a JSON object");
        }
        if (auto violation = validate_note(note.get_object()))
        {
            co_return co_await reject_read(400, *violation);
        }

        if (auto retry_after = srv_.take_rate_slot())
        {
            srv_.rate_limited.fetch_add(1, std::memory_order_relaxed);
            const header_list headers{{"Retry-After", std::to_string(retry_after->count())}};
            co_return co_await respond(429, headers, error_body(429, "Too many requests"));
        }

        if (auto scripted = srv_.pick_step(candidate_id, account_id, step_pick::after_body))
        {
            co_return co_await play_step(*scripted, candidate_id, account_id, &note);
        }

        auto ids = srv_.record_note(candidate_id, account_id, std::move(note));
        if (!ids)
        {
            co_return co_await respond(
                500, no_headers, error_body(500, "The mock could not write its ledger"));
        }
        co_return co_await respond(201, no_headers, created_body(*ids));
    }

    /// Performs a scenario step. `note` is null when the body has not been read.
    asio::awaitable<bool> play_step(const step& s,
                                    std::string_view candidate_id,
                                    std::string_view account_id,
                                    json::value* note)
    {
        srv_.scripted.fetch_add(1, std::memory_order_relaxed);

        // The delay waits on a timer, so the thread serves other connections meanwhile.
        if (s.delay.count() > 0)
        {
            timer_.expires_after(s.delay);
            co_await timer_.async_wait(use_nothrow);
            if (closing_)
            {
                co_return false;
            }
        }

        if (s.raw)
        {
            co_return co_await play_raw(s);
        }

        switch (s.action)
        {
        case step_action::close_before_read:
        case step_action::close_after_read:
            // No TLS close_notify either: this imitates a connection that dies.
            close_now();
            co_return false;
        case step_action::reset:
            reset_now();
            co_return false;
        case step_action::respond:
            break;
        }

        co_return co_await answer_step(s, candidate_id, account_id, note);
    }

    /// Sends a `raw` step's bytes as they are, then ends as `raw_then` says. The request was
    /// read and validated; no note is created. Returns false when the connection is over.
    asio::awaitable<bool> play_raw(const step& s)
    {
        co_await send(*s.raw);
        if (closing_ || peer_gone_)
        {
            close_now();
            co_return false;
        }

        // An answer that never ends: the repeated bytes go out until the client gives up (a
        // failed write) or the server stops. Interval 0 still yields between writes.
        if (s.raw_repeat)
        {
            while (!closing_ && !peer_gone_)
            {
                timer_.expires_after(s.raw_repeat_interval);
                co_await timer_.async_wait(use_nothrow);
                co_await send(*s.raw_repeat);
            }
            close_now();
            co_return false;
        }
        switch (s.raw_then)
        {
        case raw_end::close:
            co_await close_gracefully();
            co_return false;
        case raw_end::reset:
            reset_now();
            co_return false;
        case raw_end::stall:
            co_await stall_until_closed();
            co_return false;
        case raw_end::keep_open:
            break;
        }
        co_return true;
    }

    /// Answers a `respond` step: the head, the heartbeats, then the final body in the step's
    /// framing, or the step's fault on the way. Returns false when the connection is over.
    asio::awaitable<bool> answer_step(const step& s,
                                      std::string_view candidate_id,
                                      std::string_view account_id,
                                      json::value* note)
    {
        if (s.connection_close)
        {
            keep_alive_ = false;
        }
        const auto framing = s.effective_framing();
        if (framing == body_framing::close)
        {
            keep_alive_ = false; // the body ends with the connection
        }

        const bool success = s.status >= 200 && s.status < 300;
        const bool creates = s.creates.value_or(success) && s.finishes();

        // 204 and 304 never carry a body or, for 204, a length (RFC 9110, 8.6); scenario
        // validation keeps heartbeats and body faults away from them.
        const unsigned line = s.line_status();
        const bool has_body = line != 204 && line != 304;
        const std::uint64_t beats = s.heartbeat_count();
        std::uint64_t beats_to_send = beats;
        if (s.stall_after_heartbeats)
        {
            beats_to_send = *s.stall_after_heartbeats;
        }
        else if (s.close_after_heartbeats)
        {
            beats_to_send = *s.close_after_heartbeats;
        }

        json::value recorded = json::object();
        if (note)
        {
            recorded = std::move(*note);
        }

        // With nothing between the head and the body, the note is created before anything is
        // sent, as for an unscripted request, so that a ledger failure can still be a 500.
        std::optional<note_ids> ids;
        const bool record_first = creates && beats == 0;
        if (record_first)
        {
            ids = srv_.record_note(candidate_id, account_id, std::move(recorded));
            if (!ids)
            {
                const std::string failure = error_body(500, "The mock could not write its ledger");
                co_return co_await respond(500, no_headers, failure);
            }
        }

        // A Content-Length must be known before the heartbeats, so that body is built first,
        // with its ids reserved now and the note recorded once the heartbeats are over.
        std::string body;
        const bool body_first = framing == body_framing::content_length;
        if (body_first)
        {
            if (success && !ids)
            {
                ids = srv_.next_ids();
            }
            if (has_body)
            {
                body = step_body(s, success ? ids : std::nullopt);
            }
        }

        // TLS 1.3: a key update that asks for the client's goes out ahead of the answer (a
        // plain connection has none to send).
        if constexpr (is_tls)
        {
            if (s.key_update &&
                SSL_key_update(stream_.native_handle(), SSL_KEY_UPDATE_REQUESTED) != 1)
                ERR_clear_error(); // not TLS 1.3: nothing is sent
        }
        start_head(line, s.headers);
        if (s.heartbeats && (s.heartbeats->force || prefers_heartbeat_))
        {
            out_ += "Preference-Applied: heartbeat\r\n";
        }
        switch (framing)
        {
        case body_framing::content_length:
            if (has_body)
            {
                out_ += "Content-Length: ";
                out_ += std::to_string(beats * s.heartbeat_bytes().size() + body.size());
                out_ += "\r\n";
            }
            break;
        case body_framing::chunked:
            out_ += "Transfer-Encoding: chunked\r\n";
            if (s.mix_heartbeats)
            {
                out_ += "Trailer: X-Trailer\r\n";
            }
            break;
        case body_framing::close:
            break;
        }
        end_head();

        // The head goes out alone when anything comes between it and the body, as from a
        // server that flushes its headers before the work is done.
        const bool head_alone = beats > 0 || !s.finishes();
        if (head_alone)
        {
            co_await send(out_);
            if (closing_)
            {
                co_return false;
            }
        }

        // A client that hangs up does not stop the "provider": the timeline goes on unsent,
        // so whether the note exists never depends on when a write notices the hang-up.
        for (std::uint64_t i = 0; i < beats_to_send; ++i)
        {
            if (i > 0)
            {
                const bool open = co_await pause(s.heartbeats->interval);
                if (!open)
                {
                    co_return false;
                }
            }
            const std::string unit = heartbeat_unit(s, framing, i);
            co_await send(unit);
            if (closing_)
            {
                co_return false;
            }
            if (!peer_gone_)
            {
                srv_.heartbeats_sent.fetch_add(1, std::memory_order_relaxed);
            }
        }

        if (s.stall_after_heartbeats)
        {
            if constexpr (is_tls)
            {
                if (s.stall_key_updates.count() > 0)
                {
                    co_await stall_with_key_updates(s.stall_key_updates);
                    co_return false;
                }
            }
            co_await stall_until_closed();
            co_return false;
        }
        if (s.close_after_heartbeats)
        {
            co_await end_connection(s.close_notify);
            co_return false;
        }

        // The body comes one interval after the last heartbeat, so that the gap between any
        // two transmissions is the interval.
        if (beats > 0)
        {
            const bool open = co_await pause(s.heartbeats->interval);
            if (!open)
            {
                co_return false;
            }
        }

        if (creates && !record_first)
        {
            std::optional<note_ids> created_ids;
            if (ids)
            {
                created_ids = srv_.record_note(*ids, candidate_id, account_id, std::move(recorded));
            }
            else
            {
                created_ids = srv_.record_note(candidate_id, account_id, std::move(recorded));
            }
            if (!created_ids)
            {
                // The head is out: a 500 cannot be sent any more, so the connection dies.
                close_now();
                co_return false;
            }
            ids = std::move(created_ids);
        }
        if (peer_gone_)
        {
            close_now();
            co_return false;
        }
        if (!body_first && has_body)
        {
            body = step_body(s, success ? ids : std::nullopt);
        }

        std::size_t cut = 0;
        std::string wire = frame_body(s, framing, body, cut);
        if (s.close_mid_body)
        {
            wire.resize(cut);
        }
        if (!head_alone)
        {
            wire.insert(0, out_); // one write, one TLS record, as respond() does
        }
        co_await send(wire);
        if (closing_)
        {
            co_return false;
        }
        if (peer_gone_)
        {
            close_now();
            co_return false;
        }

        if (s.close_mid_body || s.close_after_response)
        {
            co_await end_connection(s.close_notify);
            co_return false;
        }
        if (!keep_alive_)
        {
            co_await close_gracefully();
            co_return false;
        }
        co_return true;
    }

    /// Writes `bytes` unless the client has gone; a failed write marks it gone.
    asio::awaitable<void> send(std::string_view bytes)
    {
        if (peer_gone_ || closing_ || bytes.empty())
        {
            co_return;
        }
        const auto result = co_await asio::async_write(
            stream_, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
        if (std::get<0>(result))
        {
            peer_gone_ = true;
        }
    }

    /// Waits on a timer (the thread serves others meanwhile). False once the server closes
    /// the connection.
    asio::awaitable<bool> pause(std::chrono::milliseconds how_long)
    {
        if (closing_)
        {
            co_return false;
        }
        if (how_long.count() > 0)
        {
            timer_.expires_after(how_long);
            co_await timer_.async_wait(use_nothrow);
        }
        co_return !closing_;
    }

    /// Sends nothing more and keeps the connection until the client closes it or the server
    /// stops (close_now() then fails the read). What the client sends is read and dropped.
    asio::awaitable<void> stall_until_closed()
    {
        std::array<char, 512> sink;
        while (!closing_ && !peer_gone_)
        {
            const auto result = co_await stream_.async_read_some(asio::buffer(sink), use_nothrow);
            if (std::get<0>(result))
            {
                break;
            }
        }
        close_now();
    }

    /// Sends no HTTP byte more, but a TLS 1.3 key update (not asking for the client's) every
    /// @p interval until the client goes or the server stops: traffic that is no heartbeat.
    asio::awaitable<void> stall_with_key_updates(std::chrono::milliseconds interval)
    {
        while (co_await pause(interval))
        {
            // SSL_key_update only queues the message; a handshake step on the established
            // session sends it.
            if (SSL_key_update(stream_.native_handle(), SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
            {
                ERR_clear_error(); // not TLS 1.3
                break;
            }
            const auto [ec] =
                co_await stream_.async_handshake(ssl::stream_base::server, use_nothrow);
            if (ec)
            {
                break;
            }
            srv_.tls_key_updates_sent.fetch_add(1, std::memory_order_relaxed);
        }
        close_now();
    }

    /// Closes after a scripted fault: abruptly (FIN; on TLS no close_notify, as a connection
    /// that dies) unless `notify` asks for a proper TLS shutdown first.
    asio::awaitable<void> end_connection(bool notify)
    {
        if (notify)
        {
            co_await close_gracefully();
            co_return;
        }
        close_now();
    }

    asio::awaitable<bool> serve_stats()
    {
        const auto method = parser_->get().method();
        if (method != http::verb::get)
        {
            co_return co_await discard_and_respond(
                405, allow_get, error_body(405, "Method Not Allowed"));
        }
        co_return co_await discard_and_respond(200, no_headers, srv_.stats_json());
    }

    /// Answers an error found by the mock's own checks, after consuming the body.
    asio::awaitable<bool>
    reject(unsigned status, std::string message, const header_list& headers = no_headers)
    {
        srv_.rejected.fetch_add(1, std::memory_order_relaxed);
        co_return co_await discard_and_respond(status, headers, error_body(status, message));
    }

    /// Like reject(), once the body has been read (or cannot be).
    asio::awaitable<bool> reject_read(unsigned status, std::string message)
    {
        srv_.rejected.fetch_add(1, std::memory_order_relaxed);
        co_return co_await respond(status, no_headers, error_body(status, message));
    }

    /// Reads and drops the body so the connection can carry the next request, then answers.
    asio::awaitable<bool>
    discard_and_respond(unsigned status, const header_list& headers, std::string body)
    {
        // With `Expect: 100-continue` the client may not send the body at all, or send it
        // later: answer at once and close instead of guessing (RFC 9110, section 10.1.1).
        if (expect_continue_ && !parser_->is_done())
        {
            keep_alive_ = false;
        }
        else
        {
            const auto read = co_await read_body();
            if (read == body_read::closed)
            {
                co_return false;
            }
            if (read != body_read::ok)
            {
                keep_alive_ = false;
            }
        }
        co_return co_await respond(status, headers, body);
    }

    asio::awaitable<body_read> read_body()
    {
        if (parser_->is_done())
        {
            co_return body_read::ok;
        }
        auto [ec, n] = co_await http::async_read(stream_, buffer_, *parser_, use_nothrow);
        if (!ec)
        {
            co_return body_read::ok;
        }
        if (closing_ || is_disconnect(ec))
        {
            co_return body_read::closed;
        }
        co_return ec == http::error::body_limit ? body_read::too_large : body_read::malformed;
    }

    /// The header could not be read: a quiet end for a hang-up, an error answer otherwise.
    asio::awaitable<bool> answer_read_error(const error_code& ec)
    {
        if (closing_ || is_disconnect(ec))
        {
            co_return false;
        }

        // After a framing error the rest of the stream cannot be trusted.
        keep_alive_ = false;
        srv_.requests.fetch_add(1, std::memory_order_relaxed);
        srv_.rejected.fetch_add(1, std::memory_order_relaxed);
        if (ec == http::error::header_limit)
        {
            co_return co_await respond(
                431, no_headers, error_body(431, "Request header fields too large"));
        }
        if (ec == http::error::body_limit)
        {
            co_return co_await respond(413,
                                       no_headers,
                                       error_body(413,
                                                  "Request body is larger than " +
                                                      std::to_string(srv_.max_body_bytes()) +
                                                      " bytes"));
        }
        co_return co_await respond(
            400, no_headers, error_body(400, "Malformed HTTP request: " + ec.message()));
    }

    /// Starts a response head in `out_`: the status line, `Server`, the given headers and a
    /// default `Content-Type`. The framing headers and end_head() are the caller's.
    void start_head(unsigned status, const header_list& headers)
    {
        out_.clear();
        out_ += "HTTP/1.1 ";
        out_ += std::to_string(status);
        out_ += ' ';
        out_ += reason_phrase(status);
        out_ += "\r\nServer: stackone-mock\r\n";
        bool has_content_type = false;
        for (const auto& [name, value] : headers)
        {
            has_content_type = has_content_type || beast::iequals(name, "content-type");
            out_ += name;
            out_ += ": ";
            out_ += value;
            out_ += "\r\n";
        }
        if (!has_content_type)
        {
            out_ += "Content-Type: application/json\r\n";
        }
    }

    /// Ends the head begun by start_head(): `Connection: close` when the connection ends after
    /// this answer, the configured `Keep-Alive`, and the blank line.
    void end_head()
    {
        if (!keep_alive_)
        {
            out_ += "Connection: close\r\n";
        }
        out_ += srv_.keep_alive_line();
        out_ += "\r\n";
    }

    /// Serializes and writes one response. Returns false when the connection is over.
    asio::awaitable<bool>
    respond(unsigned status, const header_list& headers, std::string_view body)
    {
        // 204 and 304 never carry a body or, for 204, a length (RFC 9110, 8.6).
        const bool has_body = status != 204 && status != 304;

        start_head(status, headers);
        if (has_body)
        {
            out_ += "Content-Length: ";
            out_ += std::to_string(body.size());
            out_ += "\r\n";
        }
        end_head();
        if (has_body)
        {
            out_ += body;
        }

        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), use_nothrow);
        if (ec || closing_)
        {
            close_now();
            co_return false;
        }
        if (!keep_alive_)
        {
            co_await close_gracefully();
            co_return false;
        }
        co_return true;
    }

    /// Ends the connection after a `Connection: close` answer without losing that answer.
    asio::awaitable<void> close_gracefully()
    {
        // Bound the goodbye: a peer that never closes must not hold the session.
        guard_.expires_after(close_linger);
        guard_.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (!ec)
            {
                self->close_now();
            }
        });

        if constexpr (is_tls)
        {
            // Whether the peer answers our close_notify does not matter: we close either way.
            co_await stream_.async_shutdown(use_nothrow);
        }
        else
        {
            // Drain what the client still sends: closing with unread data sends a RST, which
            // can destroy the response before the client has read it.
            error_code ec;
            socket().shutdown(tcp::socket::shutdown_send, ec);
            std::array<char, 512> sink;
            while (!ec && !closing_)
            {
                std::size_t n = 0;
                std::tie(ec, n) =
                    co_await socket().async_read_some(asio::buffer(sink), use_nothrow);
            }
        }
        close_now();
    }

    void close_now()
    {
        closing_ = true;
        error_code ec;
        socket().close(ec);
        timer_.cancel();
        guard_.cancel();
        idle_timer_.cancel();
    }

    /// Starts the idle watch for the next request, when `idle_close_ms` asks for one.
    void arm_idle_close()
    {
        const auto limit = srv_.idle_close();
        if (limit.count() == 0)
        {
            return;
        }
        awaiting_request_ = true;
        idle_expired_ = false;
        const auto generation = ++idle_generation_;
        idle_timer_.expires_after(limit);
        idle_timer_.async_wait([self = this->shared_from_this(), generation](const error_code& ec) {
            self->on_idle_timeout(ec, generation);
        });
    }

    void on_idle_timeout(const error_code& ec, std::uint64_t generation)
    {
        // Stale or beaten: the wait was re-armed, the request arrived, or some of its bytes
        // have (Beast keeps a partial header in `buffer_`), or the connection is closing.
        if (ec || closing_ || generation != idle_generation_ || !awaiting_request_ ||
            buffer_.size() > 0)
        {
            return;
        }

        // Cancel the pending read rather than close under it: serve_one() then ends the
        // connection with a proper TLS shutdown, which cannot run beside a pending read.
        idle_expired_ = true;
        error_code ignored;
        socket().cancel(ignored);
    }

    void reset_now()
    {
        // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        error_code ec;
        socket().set_option(asio::socket_base::linger(true, 0), ec);
        close_now();
    }

    server_core& srv_;
    Stream stream_;
    asio::steady_timer timer_;      // scripted delays
    asio::steady_timer guard_;      // bounds close_gracefully()
    asio::steady_timer idle_timer_; // idle_close_ms between requests
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string out_;
    bool keep_alive_ = true;
    bool expect_continue_ = false;
    bool prefers_heartbeat_ = false; // the request carried `Prefer: heartbeat`
    bool peer_gone_ = false;         // a write failed: the client has hung up
    bool awaiting_request_ = false;  // the idle watch is on
    bool idle_expired_ = false;      // the idle watch cancelled the read
    std::uint64_t idle_generation_ = 0;
    bool closing_ = false;
};

server_core::server_core(server_options opts)
    : opts_(std::move(opts)), ioc_(static_cast<int>(opts_.threads == 0 ? 1 : opts_.threads)),
      acceptor_(asio::make_strand(ioc_))
{
    // Loopback only: a mock that accepts any key must never be reachable from a network.
    if (!is_loopback_host(opts_.host))
    {
        throw std::runtime_error("server_options.host must be a loopback address (127.0.0.1, "
                                 "::1 or localhost), got '" +
                                 opts_.host + "'");
    }
    address_ = opts_.host == "localhost" ? asio::ip::make_address("127.0.0.1")
                                         : asio::ip::make_address(opts_.host);
    port_ = opts_.port;

    if (opts_.threads == 0 || opts_.threads > max_threads)
    {
        throw std::runtime_error("server_options.threads must be from 1 to 256, got " +
                                 std::to_string(opts_.threads));
    }

    // The key itself is never echoed, not even in this message.
    if (opts_.api_key.empty() || !is_header_value(opts_.api_key))
    {
        throw std::runtime_error(
            "server_options.api_key must be non-empty and free of control characters");
    }
    expected_authorization_ = "Basic " + base64_encode(opts_.api_key + ":");

    if (opts_.idle_close_ms.count() < 0 || opts_.idle_close_ms.count() > max_delay_ms)
    {
        throw std::runtime_error("server_options.idle_close_ms must be from 0 to 3600000, got " +
                                 std::to_string(opts_.idle_close_ms.count()));
    }
    if (opts_.keep_alive_header_s.count() < 0 ||
        opts_.keep_alive_header_s.count() > max_keep_alive_s)
    {
        throw std::runtime_error(
            "server_options.keep_alive_header_s must be from 0 to 86400, got " +
            std::to_string(opts_.keep_alive_header_s.count()));
    }
    if (opts_.rate_limit_window.count() < 1 || opts_.rate_limit_window.count() > max_delay_ms)
    {
        throw std::runtime_error(
            "server_options.rate_limit_window must be from 1 to 3600000 ms, got " +
            std::to_string(opts_.rate_limit_window.count()));
    }
    if (opts_.max_body_bytes < 1 || opts_.max_body_bytes > 64 * 1024 * 1024)
    {
        throw std::runtime_error("server_options.max_body_bytes must be from 1 to 67108864, got " +
                                 std::to_string(opts_.max_body_bytes));
    }
    if (opts_.receive_buffer_bytes < 0)
    {
        throw std::runtime_error("server_options.receive_buffer_bytes must not be negative");
    }
    if (opts_.keep_alive_header_s.count() > 0)
    {
        keep_alive_line_ =
            "Keep-Alive: timeout=" + std::to_string(opts_.keep_alive_header_s.count()) + "\r\n";
    }

    if (opts_.tls)
    {
        if (opts_.cert_file.empty() || opts_.key_file.empty())
        {
            throw std::runtime_error(
                "server_options.cert_file and key_file are required when tls is set");
        }
        tls_context_.emplace(ssl::context::tls_server);
        auto& ctx = *tls_context_;
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        if (!opts_.tls_sessions)
        {
            SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(ctx.native_handle(), 0);
            SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_OFF);
        }

        error_code ec;
        ctx.use_certificate_chain_file(opts_.cert_file, ec);
        if (ec)
        {
            throw std::runtime_error("cannot load the TLS certificate chain from '" +
                                     opts_.cert_file + "': " + ec.message());
        }
        ctx.use_private_key_file(opts_.key_file, ssl::context::pem, ec);
        if (ec)
        {
            throw std::runtime_error("cannot load the TLS private key from '" + opts_.key_file +
                                     "': " + ec.message());
        }
        if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
        {
            throw std::runtime_error("the TLS private key '" + opts_.key_file +
                                     "' does not match the certificate '" + opts_.cert_file + "'");
        }
    }

    rules_ = compile_scenario(opts_.scenario);
    random_ = compile_random(opts_.scenario);
    has_rules_ = !rules_.empty() || random_;

    // Ids must differ across runs that append to the same ledger file, hence a random seed.
    std::random_device entropy;
    id_seed_ = static_cast<std::uint64_t>(entropy()) << 32 | entropy();

    if (!opts_.ledger_path.empty())
    {
        ledger_fd_ =
            ::open(opts_.ledger_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (ledger_fd_ < 0)
        {
            throw std::runtime_error("cannot open the ledger file '" + opts_.ledger_path +
                                     "': " + std::strerror(errno));
        }
    }
}

server_core::~server_core()
{
    stop();
    if (ledger_fd_ >= 0)
    {
        ::close(ledger_fd_);
    }
}

void server_core::start()
{
    std::lock_guard lifecycle_lock(lifecycle_mutex_);
    if (state_ != lifecycle::created)
    {
        throw std::runtime_error("stackone::mock::server::start: the server was already started");
    }

    const tcp::endpoint endpoint(address_, opts_.port);
    const auto where = address_.to_string() + ":" + std::to_string(opts_.port);
    error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec)
    {
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec && opts_.receive_buffer_bytes > 0)
    {
        acceptor_.set_option(asio::socket_base::receive_buffer_size(opts_.receive_buffer_bytes),
                             ec);
    }
    if (!ec)
    {
        acceptor_.bind(endpoint, ec);
    }
    if (!ec)
    {
        acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec)
    {
        error_code ignored;
        acceptor_.close(ignored);
        throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();

    asio::co_spawn(acceptor_.get_executor(), accept_loop(), report_exception);

    running_workers_ = opts_.threads;
    threads_.reserve(opts_.threads);
    for (unsigned i = 0; i < opts_.threads; ++i)
    {
        threads_.emplace_back([this] { run_worker(); });
    }
    state_ = lifecycle::running;
}

void server_core::stop()
{
    std::lock_guard lifecycle_lock(lifecycle_mutex_);
    if (state_ != lifecycle::running)
    {
        return;
    }
    state_ = lifecycle::stopped;

    // No new connections: the accept loop ends when its pending accept fails.
    asio::post(acceptor_.get_executor(), [this] {
        error_code ec;
        acceptor_.close(ec);
    });

    // Close every open connection; one accepted after this sees `stopping_` and closes itself.
    std::vector<std::shared_ptr<session_base>> live;
    {
        std::lock_guard lock(sessions_mutex_);
        stopping_ = true;
        live.reserve(sessions_.size());
        for (const auto& [id, weak] : sessions_)
        {
            if (auto s = weak.lock())
            {
                live.push_back(std::move(s));
            }
        }
    }
    for (const auto& s : live)
    {
        s->request_close();
    }
    live.clear();

    // The workers return once nothing is pending. Should something still be (a bug), do not
    // hang the caller forever.
    {
        std::unique_lock lock(workers_mutex_);
        if (!workers_done_.wait_for(lock, stop_grace, [this] { return running_workers_ == 0; }))
        {
            std::cerr << "stackone-mock: connections did not close in time; stopping hard\n";
            ioc_.stop();
        }
    }
    for (auto& t : threads_)
    {
        t.join();
    }
    threads_.clear();
}

void server_core::run_worker()
{
    for (;;)
    {
        try
        {
            ioc_.run();
            break;
        }
        catch (const std::exception& e)
        {
            // One connection's failure must not take the server down.
            std::cerr << "stackone-mock: worker caught an exception: " << e.what() << '\n';
        }
    }
    std::lock_guard lock(workers_mutex_);
    --running_workers_;
    workers_done_.notify_all();
}

asio::awaitable<void> server_core::accept_loop()
{
    asio::steady_timer backoff(acceptor_.get_executor());
    for (;;)
    {
        // Each connection gets its own strand, so several threads never touch one socket.
        tcp::socket socket(asio::make_strand(ioc_));
        auto [ec] = co_await acceptor_.async_accept(socket, use_nothrow);
        if (!acceptor_.is_open())
        {
            co_return;
        }
        if (ec)
        {
            // Out of descriptors, most likely: wait a little instead of spinning on the error.
            backoff.expires_after(std::chrono::milliseconds(10));
            co_await backoff.async_wait(use_nothrow);
            continue;
        }

        connections_accepted.fetch_add(1, std::memory_order_relaxed);
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        spawn_session(std::move(socket));
    }
}

void server_core::spawn_session(tcp::socket socket)
{
    const auto launch = [this](auto s) {
        using session_type = typename decltype(s)::element_type;
        if (!register_session(s))
        {
            return; // stopping: dropping the session closes the socket
        }
        asio::co_spawn(s->get_executor(), session_type::run(s), report_exception);
    };

    if (tls_context_)
    {
        launch(std::make_shared<session<ssl::stream<tcp::socket>>>(
            *this, std::move(socket), *tls_context_));
    }
    else
    {
        launch(std::make_shared<session<tcp::socket>>(*this, std::move(socket)));
    }
}

bool server_core::register_session(const std::shared_ptr<session_base>& session)
{
    std::lock_guard lock(sessions_mutex_);
    if (stopping_)
    {
        return false;
    }
    session->registry_id = next_session_id_++;
    sessions_.emplace(session->registry_id, session);
    return true;
}

void server_core::unregister_session(std::uint64_t registry_id)
{
    if (registry_id == 0)
    {
        return;
    }
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(registry_id);
}

std::string server_core::base_url() const
{
    const auto host = address_.is_v6() ? "[" + address_.to_string() + "]" : address_.to_string();
    return std::string(opts_.tls ? "https://" : "http://") + host + ":" + std::to_string(port());
}

stats server_core::get_stats() const
{
    stats s;
    s.connections_accepted = connections_accepted.load(std::memory_order_relaxed);
    s.connections_open = connections_open.load(std::memory_order_relaxed);
    s.tls_handshakes_failed = tls_handshakes_failed.load(std::memory_order_relaxed);
    s.tls_handshakes_with_sni = tls_handshakes_with_sni.load(std::memory_order_relaxed);
    s.tls_key_updates_sent = tls_key_updates_sent.load(std::memory_order_relaxed);
    s.requests = requests.load(std::memory_order_relaxed);
    s.created = created.load(std::memory_order_relaxed);
    s.rejected = rejected.load(std::memory_order_relaxed);
    s.scripted = scripted.load(std::memory_order_relaxed);
    s.heartbeats_sent = heartbeats_sent.load(std::memory_order_relaxed);
    s.connections_closed_idle = connections_closed_idle.load(std::memory_order_relaxed);
    s.rate_limited = rate_limited.load(std::memory_order_relaxed);
    return s;
}

// Takes a slot of the rate limit's current window; when there is none, returns the whole
// seconds until the window ends (at least 1), for `Retry-After`.
std::optional<std::chrono::seconds> server_core::take_rate_slot()
{
    if (opts_.rate_limit_requests == 0)
    {
        return std::nullopt;
    }
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(rate_mutex_);
    if (rate_window_count_ == 0 || now - rate_window_start_ >= opts_.rate_limit_window)
    {
        rate_window_start_ = now;
        rate_window_count_ = 0;
    }
    if (rate_window_count_ < opts_.rate_limit_requests)
    {
        ++rate_window_count_;
        return std::nullopt;
    }
    const auto left = rate_window_start_ + opts_.rate_limit_window - now;
    const auto secs = std::chrono::ceil<std::chrono::seconds>(left);
    return std::max(secs, std::chrono::seconds(1));
}

std::string server_core::stats_json() const
{
    const auto s = get_stats();
    json::object body;
    body["connections_accepted"] = s.connections_accepted;
    body["connections_open"] = s.connections_open;
    body["tls_handshakes_failed"] = s.tls_handshakes_failed;
    body["tls_handshakes_with_sni"] = s.tls_handshakes_with_sni;
    body["tls_key_updates_sent"] = s.tls_key_updates_sent;
    body["requests"] = s.requests;
    body["created"] = s.created;
    body["rejected"] = s.rejected;
    body["scripted"] = s.scripted;
    body["heartbeats_sent"] = s.heartbeats_sent;
    body["connections_closed_idle"] = s.connections_closed_idle;
    body["rate_limited"] = s.rate_limited;
    if (auto random = random_counts(); !random.empty())
    {
        body["random"] = std::move(random);
    }
    return json::serialize(body);
}

std::vector<ledger_entry> server_core::ledger() const
{
    std::lock_guard lock(ledger_mutex_);
    return ledger_;
}

void server_core::set_scenario(const json::value& scenario)
{
    // Compile outside the lock: a bad scenario throws and leaves the old one in force.
    auto rules = compile_scenario(scenario);
    auto random = compile_random(scenario);
    std::lock_guard lock(scenario_mutex_);
    rules_ = std::move(rules);
    random_ = std::move(random);
    has_rules_.store(!rules_.empty() || random_, std::memory_order_release);
}

std::shared_ptr<const step>
server_core::pick_step(std::string_view candidate_id, std::string_view account_id, step_pick pick)
{
    // Fast path for benchmarks: no scenario, no lock.
    if (!has_rules_.load(std::memory_order_acquire))
    {
        return nullptr;
    }

    std::lock_guard lock(scenario_mutex_);
    for (auto& r : rules_)
    {
        if (!r.matches(candidate_id, account_id))
        {
            continue;
        }

        // The first matching rule decides, even once its steps are used up.
        const std::string key(candidate_id);
        const auto found = r.seen.find(key);
        const std::uint64_t k = found == r.seen.end() ? 0 : found->second;
        auto s = r.step_at(k);
        const bool acts_before_body = s && s->action == step_action::close_before_read;
        if (pick == step_pick::before_body && !acts_before_body)
        {
            return nullptr; // counted when the request comes back after its body
        }
        r.seen[key] = k + 1;
        return s;
    }
    return pick_random_step(candidate_id, pick);
}

std::shared_ptr<const step> server_core::pick_random_step(std::string_view candidate_id,
                                                          step_pick pick)
{
    // Called with scenario_mutex_ held. Counted like a rule: per candidate id, and a request
    // only once (before its body for a close_before_read, after it otherwise).
    if (!random_ ||
        (random_->candidate_pattern &&
         !std::regex_search(candidate_id.begin(), candidate_id.end(), *random_->candidate_pattern)))
    {
        return nullptr;
    }
    const std::string key(candidate_id);
    const auto found = random_->seen.find(key);
    const std::uint64_t k = found == random_->seen.end() ? 0 : found->second;
    const auto index = random_->pick(candidate_id, k);
    const auto& kind = random_->kinds[index];
    if (pick == step_pick::before_body && !kind.before_body)
    {
        return nullptr;
    }
    random_->seen[key] = k + 1;
    ++random_->picked[index];
    return kind.play;
}

json::object server_core::random_counts() const
{
    json::object counts;
    std::lock_guard lock(scenario_mutex_);
    if (random_)
    {
        for (std::size_t i = 0; i < random_->kinds.size(); ++i)
        {
            counts[to_json(random_->kinds[i].name)] = random_->picked[i];
        }
    }
    return counts;
}

note_ids server_core::next_ids()
{
    const auto n = next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto noise = splitmix64(id_seed_ ^ n);
    std::array<char, 96> text{};
    note_ids ids;
    int len = std::snprintf(text.data(),
                            text.size(),
                            "mock-note-%08llu-%08x",
                            static_cast<unsigned long long>(n),
                            static_cast<unsigned>(noise & 0xffffffffU));
    ids.id.assign(text.data(), len > 0 ? static_cast<std::size_t>(len) : 0);
    len = std::snprintf(text.data(),
                        text.size(),
                        "mock-remote-%08llu-%08x",
                        static_cast<unsigned long long>(n),
                        static_cast<unsigned>(noise >> 32));
    ids.remote_id.assign(text.data(), len > 0 ? static_cast<std::size_t>(len) : 0);
    return ids;
}

std::optional<note_ids> server_core::record_note(std::string_view candidate_id,
                                                 std::string_view account_id,
                                                 json::value note)
{
    return record_note(next_ids(), candidate_id, account_id, std::move(note));
}

std::optional<note_ids> server_core::record_note(note_ids ids,
                                                 std::string_view candidate_id,
                                                 std::string_view account_id,
                                                 json::value note)
{

    // The line is built before taking the lock; ids never need escaping.
    std::string line;
    if (ledger_fd_ >= 0)
    {
        line.reserve(128 + candidate_id.size() + account_id.size());
        line += R"({"id":")";
        line += ids.id;
        line += R"(","remote_id":")";
        line += ids.remote_id;
        line += R"(","candidate_id":)";
        line += json::serialize(to_json(candidate_id));
        line += R"(,"account_id":)";
        line += json::serialize(to_json(account_id));
        line += R"(,"note":)";
        line += json::serialize(note);
        line += "}\n";
    }

    {
        std::lock_guard lock(ledger_mutex_);

        // One write(2) per line on an O_APPEND descriptor: the line is in the file (though not
        // necessarily on disk) before the response goes out, and lines never interleave.
        std::size_t written = 0;
        while (written < line.size())
        {
            const auto n = ::write(ledger_fd_, line.data() + written, line.size() - written);
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                std::cerr << "stackone-mock: cannot write the ledger file: " << std::strerror(errno)
                          << '\n';
                return std::nullopt;
            }
            written += static_cast<std::size_t>(n);
        }

        if (opts_.ledger_in_memory)
        {
            ledger_.push_back(ledger_entry{ids.id,
                                           ids.remote_id,
                                           std::string(candidate_id),
                                           std::string(account_id),
                                           std::move(note)});
        }
    }
    created.fetch_add(1, std::memory_order_relaxed);
    return ids;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// The pimpl is the core itself; the indirection only keeps the core's name out of the header.
class server::impl : public server_core
{
public:
    using server_core::server_core;
};

bool is_loopback_host(const std::string& host) noexcept
{
    if (host == "localhost")
    {
        return true;
    }
    error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    return !ec && address.is_loopback();
}

server::server(server_options opts) : impl_(std::make_unique<impl>(std::move(opts)))
{}

server::~server() = default;

void server::start()
{
    impl_->start();
}

void server::stop()
{
    impl_->stop();
}

unsigned short server::port() const
{
    return impl_->port();
}

std::string server::base_url() const
{
    return impl_->base_url();
}

stats server::get_stats() const
{
    return impl_->get_stats();
}

std::vector<ledger_entry> server::ledger() const
{
    return impl_->ledger();
}

void server::set_scenario(boost::json::value scenario)
{
    impl_->set_scenario(scenario);
}

boost::json::value server::load_scenario_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        throw std::runtime_error("cannot open the scenario file '" + path +
                                 "': " + std::strerror(errno));
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
    {
        throw std::runtime_error("cannot read the scenario file '" + path + "'");
    }

    // Hand-written files: comments and trailing commas are forgiven.
    json::parse_options options;
    options.allow_comments = true;
    options.allow_trailing_commas = true;
    json::parser parser(json::storage_ptr(), options);
    error_code ec;
    const std::size_t used = parser.write(text.data(), text.size(), ec);
    if (ec)
    {
        // Point at the line and column, so a typo is quick to find.
        std::size_t line = 1;
        std::size_t column = 1;
        for (std::size_t i = 0; i < used && i < text.size(); ++i)
        {
            if (text[i] == '\n')
            {
                ++line;
                column = 1;
            }
            else
            {
                ++column;
            }
        }
        throw std::runtime_error("the scenario file '" + path + "' is not valid JSON (line " +
                                 std::to_string(line) + ", column " + std::to_string(column) +
                                 "): " + ec.message());
    }
    return parser.release();
}

} // namespace stackone::mock
