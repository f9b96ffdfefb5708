// Fuzzes the response reader (response_reader: Beast's parser, heartbeats counted), fed the bytes
// of a response in pieces whose sizes come from the input, the way the client reads (interim
// 1xx responses skipped, then classify_response). The outcome must not depend on the pieces.
//
// Input: 1 byte of flags, 1 byte n (0-15), n bytes of piece sizes (0 = all the rest), then the
// bytes the server sent. Flags: bit 0 the server closes after them (EOF), bit 1 small limits.
#include <stackone/detail/response.hpp>

#include "check.hpp"

#include <boost/beast/http/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = boost::beast::http;
using stackone::error_code;

using stackone::fuzz::check;

struct limits
{
    std::uint32_t header_bytes = 16 * 1024;
    std::size_t json_bytes = 1024 * 1024;
    std::size_t heartbeat_bytes = 64 * 1024;
};

// What the client would decide from these bytes.
struct outcome
{
    error_code read_ec;       // a framing or limit error, or need_more when the bytes ran out
    bool header_done = false; // of the final (non-1xx) response
    int status = 0;           // Beast accepts "000"
    std::string json;
    std::size_t heartbeat_bytes = 0;
    error_code result_ec; // classify_response, when the response was complete
    stackone::create_result result;
};

outcome read_response(std::string_view wire,
                      const std::vector<std::size_t>& pieces,
                      bool eof,
                      const limits& lim)
{
    outcome out;
    stackone::detail::response_parts parts;
    std::optional<stackone::detail::response_reader> parser;
    auto new_parser = [&] {
        parser.emplace(parts,
                       stackone::detail::response_limits{.json_bytes = lim.json_bytes,
                                                         .heartbeat_bytes = lim.heartbeat_bytes});
        parser->header_limit(lim.header_bytes);
    };
    new_parser();

    // Each piece is appended to what the parser has not taken yet, as a read buffer would be;
    // the parser is then fed until it takes nothing more.
    std::string pending;
    std::size_t pos = 0;
    std::size_t next_piece = 0;
    bool done = false;
    while (!done && !out.read_ec)
    {
        if (pos < wire.size())
        {
            std::size_t n = wire.size() - pos;
            if (!pieces.empty())
            {
                const std::size_t want = pieces[next_piece++ % pieces.size()];
                if (want != 0 && want < n)
                    n = want;
            }
            pending.append(wire.substr(pos, n));
            pos += n;
        }
        // Beast's own read loop never hands the parser an empty buffer (and its parser does
        // arithmetic on the null pointer of one), so neither does this.
        while (!pending.empty())
        {
            error_code ec;
            const std::size_t used = parser->put(boost::asio::buffer(pending), ec);
            pending.erase(0, used);
            if (ec && ec != http::error::need_more)
            {
                out.read_ec = ec;
                break;
            }
            if (parser->is_done())
            {
                // An interim response: the real one follows on the same bytes.
                const int status = parts.status;
                if (status / 100 == 1 && status != 101)
                {
                    new_parser();
                    continue;
                }
                done = true;
                break;
            }
            if (used == 0)
                break;
        }
        if (!done && !out.read_ec && pos == wire.size())
        {
            if (eof && parser->need_eof())
            {
                parser->put_eof(out.read_ec);
                done = !out.read_ec && parser->is_done();
            }
            if (!done && !out.read_ec)
                out.read_ec = http::error::need_more;
        }
    }

    out.header_done = parser->is_header_done();
    if (out.header_done)
        out.status = parts.status;
    out.json = parts.json;
    out.heartbeat_bytes = parts.heartbeat_bytes;
    if (done)
    {
        const stackone::detail::response_view view{
            parts.status, parts.heartbeat_applied(), parts.json, parts.heartbeat_bytes};
        out.result_ec = stackone::detail::classify_response(view, out.result);
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    const std::uint8_t flags = data[0];
    const std::size_t n = data[1] % 16;
    if (size < 2 + n)
        return 0;
    std::vector<std::size_t> pieces(data + 2, data + 2 + n);
    const std::string_view wire(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);
    const bool eof = flags & 1;
    limits lim;
    if (flags & 2)
        lim = {256, 32, 16};

    const outcome split = read_response(wire, pieces, eof, lim);
    const outcome whole = read_response(wire, {}, eof, lim);

    // To triage a crash: STACKONE_FUZZ_VERBOSE=1 ./fuzz-response-reader crash-...
    if (std::getenv("STACKONE_FUZZ_VERBOSE"))
    {
        for (const outcome* o : {&split, &whole})
            std::fprintf(stderr,
                         "%s: read %s, status %d, %zu heartbeat bytes, result %s\n",
                         o == &split ? "in pieces" : "at once",
                         o->read_ec.message().c_str(),
                         o->status,
                         o->heartbeat_bytes,
                         o->result_ec.message().c_str());
    }

    // The pieces never change what was read or decided. Three exceptions, all Beast's: while
    // a header has not ended, a malformed one may be "need more", "header limit" or a syntax
    // error depending on how it arrived (the attempt fails in every case); a header within a
    // few bytes of the header limit may pass when it arrives at once and exceed the limit in
    // pieces; and after a limit error, how many bytes were taken before it depends on the
    // pieces.
    namespace http = boost::beast::http;
    const bool header_limit_edge =
        split.read_ec == http::error::header_limit || whole.read_ec == http::error::header_limit;
    if (!header_limit_edge)
    {
        check(split.header_done == whole.header_done && split.status == whole.status);
        if (!split.header_done)
            check(split.read_ec.failed() && whole.read_ec.failed());
        else
            check(split.read_ec == whole.read_ec);
        if (split.read_ec == whole.read_ec &&
            (!split.read_ec || split.read_ec == http::error::need_more))
        {
            check(split.json == whole.json);
            check(split.heartbeat_bytes == whole.heartbeat_bytes);
        }
        check(split.result_ec == whole.result_ec);
        check(split.result.status == whole.result.status);
        check(split.result.id == whole.result.id);
    }

    // The JSON text never starts with heartbeat whitespace, and stays within its limit.
    check(split.json.empty() || !stackone::detail::is_heartbeat_byte(split.json.front()));
    check(split.json.size() <= lim.json_bytes);
    if (split.heartbeat_bytes > lim.heartbeat_bytes)
        check(split.read_ec == stackone::errc::too_many_heartbeats);

    // Success only with a 2xx status and a JSON object: a body of whitespace alone (heartbeats
    // and nothing else) is never a success.
    if (!split.read_ec && !split.result_ec)
    {
        check(!split.json.empty());
        check(split.result.status >= 200 && split.result.status < 300);
        check(split.json.front() == '{');
    }
    if (!split.read_ec && split.json.empty())
        check(split.result_ec.failed());
    return 0;
}
