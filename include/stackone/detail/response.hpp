//
// Sans-I/O response handling: a Beast parser that keeps what the client needs of a response
// and skips and counts heartbeat whitespace before the JSON, and the classification of a
// complete response into a result or an error.
//
#ifndef STACKONE_DETAIL_RESPONSE_HPP
#define STACKONE_DETAIL_RESPONSE_HPP

#include <stackone/create_result.hpp>
#include <stackone/error.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/memory_resource.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/optional/optional.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace stackone::detail {

// JSON whitespace; with `Prefer: heartbeat` the server sends it before the body is known.
constexpr bool is_heartbeat_byte(char c) noexcept
{
    return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

// Limits on what a response may send before its JSON, and on the JSON itself.
struct response_limits
{
    std::size_t json_bytes = 1024 * 1024;
    std::size_t heartbeat_bytes = 64 * 1024;
    std::chrono::milliseconds heartbeat_time{0}; // 0 = unbounded
};

// The parts of a response the client uses. Kept with each connection and reused, so that
// reading a response allocates nothing once these strings have grown.
struct response_parts
{
    int status = 0;                  // of the status line; valid once the header is done
    std::string json;                // the body from its first non-whitespace byte on
    std::size_t heartbeat_bytes = 0; // the whitespace before it
    std::chrono::steady_clock::time_point first_heartbeat{};
    std::string retry_after; // the first of each of these headers, as received
    std::string keep_alive;
    std::string preference_applied;

    void clear() noexcept
    {
        status = 0;
        json.clear();
        heartbeat_bytes = 0;
        first_heartbeat = {};
        retry_after.clear();
        keep_alive.clear();
        preference_applied.clear();
    }

    // True when the server honoured `Prefer: heartbeat` (RFC 7240 `Preference-Applied`).
    bool heartbeat_applied() const noexcept
    {
        return preference_applied.find("heartbeat") != std::string::npos;
    }
};

/*
 * Reads one response into response_parts: Beast's parser does the framing (Content-Length,
 * chunked with extensions and trailers, close-delimited) and hands over the status, each
 * field and the body bytes in whatever pieces they arrive. Only the three headers the client
 * reads are kept; the whitespace before the JSON (heartbeats) is counted apart from it, so
 * heartbeats neither count against the JSON limit nor need to fit in it.
 */
class response_reader final : public boost::beast::http::basic_parser<false>
{
public:
    response_reader(response_parts& parts, const response_limits& limits) noexcept
        : parts_(parts), limits_(limits)
    {
        parts_.clear();
        body_limit(boost::none); // the JSON limit below applies instead
    }

private:
    using field = boost::beast::http::field;
    using string_view = boost::beast::string_view;

    void
    on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override
    {}

    void on_response_impl(int code, string_view, int, error_code&) override
    {
        parts_.status = code;
    }

    void on_field_impl(field name, string_view, string_view value, error_code&) override
    {
        auto keep_first = [&](bool& seen, std::string& out) {
            if (!seen)
                out.assign(value.data(), value.size());
            seen = true;
        };
        switch (name)
        {
        case field::retry_after:
            keep_first(seen_retry_after_, parts_.retry_after);
            break;
        case field::keep_alive:
            keep_first(seen_keep_alive_, parts_.keep_alive);
            break;
        case field::preference_applied:
            keep_first(seen_preference_applied_, parts_.preference_applied);
            break;
        default:
            break;
        }
    }

    void on_header_impl(error_code&) override {}

    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}

    std::size_t on_body_impl(string_view body, error_code& ec) override
    {
        take_body(std::string_view(body.data(), body.size()), ec);
        return ec ? 0 : body.size();
    }

    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override
    {
        return on_body_impl(body, ec);
    }

    void on_finish_impl(error_code&) override {}

    void take_body(std::string_view piece, error_code& ec)
    {
        if (parts_.json.empty())
        {
            // Skip heartbeats until the JSON starts.
            std::size_t i = 0;
            while (i < piece.size() && is_heartbeat_byte(piece[i]))
                ++i;
            if (i > 0)
            {
                if (parts_.heartbeat_bytes == 0)
                    parts_.first_heartbeat = std::chrono::steady_clock::now();
                parts_.heartbeat_bytes += i;
                if (parts_.heartbeat_bytes > limits_.heartbeat_bytes)
                {
                    ec = errc::too_many_heartbeats;
                    return;
                }
                if (limits_.heartbeat_time.count() > 0 &&
                    std::chrono::steady_clock::now() - parts_.first_heartbeat >
                        limits_.heartbeat_time)
                {
                    ec = errc::heartbeat_time_exceeded;
                    return;
                }
            }
            piece.remove_prefix(i);
            if (piece.empty())
                return;
        }
        if (parts_.json.size() + piece.size() > limits_.json_bytes)
        {
            ec = errc::body_too_large;
            return;
        }
        parts_.json.append(piece);
    }

    response_parts& parts_;
    response_limits limits_;
    bool seen_retry_after_ = false;
    bool seen_keep_alive_ = false;
    bool seen_preference_applied_ = false;
};

/*
 * The memory of one parsed response body: a bump allocator over an inline buffer that fits a
 * typical CreateResult, then a monotonic resource for bigger bodies. One allocation (the
 * shared resource itself) instead of one per member and string; the body's values keep it
 * alive through their storage_ptr, and it is freed with the last of them.
 *
 * Every allocation takes a lock (uncontended while parsing): Boost.JSON copies allocate from
 * the source's resource, so copies of a const result made on several threads at once also
 * allocate here. (The arena cannot be told when the parse ends: make_shared_resource wraps it,
 * and the storage_ptr points at the wrapper.) The lock is a spin lock: it is held for a
 * pointer bump, and a parse takes it a dozen times, where a mutex cost 1k instructions.
 */
class body_arena final : public boost::json::memory_resource
{
public:
    body_arena() = default;
    body_arena(const body_arena&) = delete;
    body_arena& operator=(const body_arena&) = delete;

private:
    void* do_allocate(std::size_t n, std::size_t align) override
    {
        while (busy_.test_and_set(std::memory_order_acquire))
            std::this_thread::yield();
        struct release
        {
            std::atomic_flag& flag;
            ~release() { flag.clear(std::memory_order_release); }
        } unlock{busy_};
        void* p = buffer_ + used_;
        std::size_t space = sizeof(buffer_) - used_;
        if (std::align(align, n, p, space))
        {
            used_ = static_cast<std::size_t>(static_cast<unsigned char*>(p) - buffer_) + n;
            return p;
        }
        return overflow_.allocate(n, align);
    }

    void do_deallocate(void*, std::size_t, std::size_t) override {}

    bool do_is_equal(const boost::json::memory_resource& other) const noexcept override
    {
        return this == &other;
    }

    alignas(std::max_align_t) unsigned char buffer_[1024];
    std::size_t used_ = 0;
    std::atomic_flag busy_;
    boost::json::monotonic_resource overflow_;
};

// The parts of a complete response that decide the outcome.
struct response_view
{
    int status_line = 0;
    bool preference_applied = false; // `Preference-Applied: heartbeat`
    std::string_view json;           // body without leading heartbeat whitespace
    std::size_t heartbeat_bytes = 0;
};

// Keeps at most 1 KiB of a raw body for diagnostics, cut on a UTF-8 character boundary.
inline std::string body_excerpt(std::string_view body)
{
    constexpr std::size_t max_excerpt = 1024;
    if (body.size() <= max_excerpt)
        return std::string(body);
    std::size_t cut = max_excerpt;
    while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80)
        --cut;
    return std::string(body.substr(0, cut)) + "...";
}

// A JSON member as a string: strings as they are, other scalars as their JSON text.
inline field<std::string> string_member(const boost::json::object& obj, std::string_view name)
{
    const auto* v = obj.if_contains(name);
    if (!v)
        return {};
    if (v->is_null())
        return stackone::null;
    if (v->is_string())
        return std::string(v->get_string());
    return boost::json::serialize(*v);
}

// `statusCode` as an int, 0 when absent or not an integral number from 100 to 999. (A cast of
// a larger number would wrap: 4294967497 would read as 201, a success. Boost.JSON stores
// only numbers over INT64_MAX as uint64.)
inline int status_member(const boost::json::object& obj)
{
    const auto* v = obj.if_contains("statusCode");
    if (!v)
        return 0;
    if (v->is_int64() && v->get_int64() >= 100 && v->get_int64() < 1000)
        return static_cast<int>(v->get_int64());
    if (v->is_double())
    {
        const double d = v->get_double();
        if (d >= 100 && d < 1000 && d == static_cast<int>(d))
            return static_cast<int>(d);
    }
    return 0;
}

/*
 * Turns a complete response into the call's result (success) or an error code, filling the
 * diagnostics either way. When heartbeats were applied, or the body's `statusCode` disagrees
 * with the status line, the body decides: the status line may have been sent before the
 * provider answered.
 */
inline error_code classify_response(const response_view& r, create_result& out)
{
    diagnostics& diag = out.diag;
    diag.http_status = r.status_line;
    out.heartbeat_applied = r.preference_applied;
    out.heartbeat_bytes = r.heartbeat_bytes;
    diag.may_have_been_processed = true;

    // An error status, and whether the note may exist behind it.
    auto http_error = [&diag](int status) {
        diag.may_have_been_processed = status_may_have_created(status);
        return make_http_error(status);
    };

    // Beast takes any three digits; a status under 100 is not HTTP, and as an HTTP error code
    // 0 would even read as success.
    if (r.status_line < 100)
    {
        diag.detail = "status code " + std::to_string(r.status_line) + " is not HTTP";
        diag.body_excerpt = body_excerpt(r.json);
        return errc::malformed_response;
    }

    const bool status_line_ok = r.status_line >= 200 && r.status_line < 300;
    if (r.json.empty())
    {
        diag.body_excerpt.clear();
        if (status_line_ok)
            return errc::empty_body;
        return http_error(r.status_line);
    }

    error_code parse_ec;
    boost::json::value body =
        boost::json::parse(r.json, parse_ec, boost::json::make_shared_resource<body_arena>());
    if (parse_ec || !body.is_object())
    {
        diag.body_excerpt = body_excerpt(r.json);
        diag.detail =
            parse_ec ? "body is not JSON: " + parse_ec.message() : "body is not an object";
        if (status_line_ok)
            return errc::malformed_response;
        return http_error(r.status_line);
    }

    const boost::json::object& obj = body.get_object();
    diag.body_status = status_member(obj);
    int effective = r.status_line;
    if (diag.body_status != 0 && (r.preference_applied || diag.body_status != r.status_line))
        effective = diag.body_status;
    out.status = effective;

    if (const auto* message = obj.if_contains("message"); message && message->is_string())
        diag.message = std::string(message->get_string());

    if (effective >= 200 && effective < 300)
    {
        out.message = diag.message;
        out.timestamp = string_member(obj, "timestamp").value_or("");
        if (const auto* data = obj.if_contains("data"); data && data->is_object())
        {
            out.id = string_member(data->get_object(), "id");
            out.remote_id = string_member(data->get_object(), "remote_id");
        }
        else if (data && !data->is_null())
        {
            diag.detail = "data is not an object";
            diag.body_excerpt = body_excerpt(r.json);
            return errc::malformed_response;
        }
        // Constructed in place, so that raw takes the body's storage; an assignment would copy
        // into the storage raw already has.
        std::destroy_at(&out.raw);
        std::construct_at(&out.raw, std::move(body.get_object()));
        return {};
    }

    // Errors keep everything the server said, whatever the status.
    if (const auto* provider_errors = obj.if_contains("provider_errors"))
        diag.provider_errors = *provider_errors;
    diag.body_excerpt = body_excerpt(r.json);
    diag.body = std::move(body);
    return http_error(effective);
}

} // namespace stackone::detail

#endif
