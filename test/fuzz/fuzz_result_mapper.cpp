// Fuzzes the mapping of a response body to the call's result and to the importer's result line:
// classify_response, make_import_record and to_json_line.
//
// Input: 2 bytes of status line (100 + value % 900, big-endian), 1 byte of flags (bit 0
// `Preference-Applied: heartbeat`, bit 1 an earlier attempt may have created it), 1 byte of
// heartbeat count, then the JSON body as received after the heartbeats.
#include <stackone/detail/response.hpp>
#include <stackone/import.hpp>

#include "check.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using stackone::error_code;

using stackone::fuzz::check;

// A field<std::string> as the result line has it: absent, null or a string.
void check_id(const json::object& line,
              std::string_view name,
              const stackone::field<std::string>& f)
{
    const auto* v = line.if_contains(name);
    if (f.is_absent())
        check(!v);
    else if (f.is_null())
        check(v && v->is_null());
    else
        check(v && v->is_string() && v->get_string() == f.value());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 4)
        return 0;
    const int status_line = 100 + (data[0] * 256 + data[1]) % 900;
    const bool applied = data[2] & 1;
    const bool duplicate = data[2] & 2;
    const std::size_t heartbeats = data[3];
    const std::string_view body(reinterpret_cast<const char*>(data + 4), size - 4);

    stackone::create_result res;
    res.diag.attempts = 1 + duplicate;
    res.diag.possible_duplicate = duplicate;
    const error_code ec =
        stackone::detail::classify_response({status_line, applied, body, heartbeats}, res);

    // A success is a 2xx, said by the status line or by a statusCode that is exactly that
    // number, with a JSON object body.
    json::error_code parse_ec;
    const json::value parsed = json::parse(body, parse_ec);
    if (!ec)
    {
        check(!parse_ec && parsed.is_object());
        check(res.status >= 200 && res.status < 300);
        const auto* code = parsed.get_object().if_contains("statusCode");
        if (res.status != status_line)
            check(code && code->is_number() && code->to_number<double>() == res.status);
        // Compared as text: Boost.JSON 1.81 reads `0e4024` as NaN, which equals nothing.
        check(json::serialize(res.raw) == json::serialize(parsed.get_object()));
    }
    else
    {
        check(ec.failed());
    }
    // A response may mean the note exists, unless its status is a refusal (a 4xx but 408, or a
    // 501), which created nothing.
    if (stackone::is_http_error(ec))
        check(res.diag.may_have_been_processed == stackone::status_may_have_created(ec.value()));
    else
        check(res.diag.may_have_been_processed);
    check(res.diag.body_excerpt.size() <= 1024 + 3);
    check(body.substr(0, res.diag.body_excerpt.size()) == res.diag.body_excerpt ||
          res.diag.body_excerpt.ends_with("..."));

    // The importer's line: one line of JSON that says the same as the result.
    stackone::import_item item;
    item.line = 7;
    item.candidate_id = "cand-7";
    item.key = "k-7";
    const stackone::import_record record = stackone::make_import_record(item, ec, res);
    const std::string text = stackone::to_json_line(record);
    check(text.find('\n') == text.size() - 1);

    json::error_code line_ec;
    const json::value line = json::parse(text, line_ec);
    check(!line_ec && line.is_object());
    const json::object& obj = line.get_object();
    check(obj.at("line") == 7 && obj.at("key") == "k-7" && obj.at("candidate_id") == "cand-7");
    check(obj.at("status") == record.status);
    const auto outcome = obj.at("outcome").as_string();
    if (!ec)
    {
        check(outcome == "created" && !obj.contains("error"));
        check_id(obj, "id", res.id);
        check_id(obj, "remote_id", res.remote_id);
    }
    else
    {
        // Everything here reached the server: a failure is definite only without a replay.
        check(outcome == "failed" || outcome == "unknown");
        check(obj.at("error").as_string() == record.error && !record.error.empty());
        check(outcome == "unknown" || !duplicate);
        // A refusal is `failed` (unless an earlier attempt may have created it); anything else
        // that failed after a response is `unknown`.
        if (!duplicate)
            check((outcome == "unknown") == res.diag.may_have_been_processed);
        check(!obj.contains("id"));
    }
    return 0;
}
