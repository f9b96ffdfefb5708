// Fuzzes the importer's line parser, parse_import_line, and what follows from a line: the
// request body (serialize_note) and the result line (to_json_line).
//
// Input: one line of JSONL, as read from the file (without its newline).
#include <stackone/import.hpp>
#include <stackone/note.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;

using stackone::fuzz::check;

// A result line is one line of JSON with the line number. Read with stackone::parse_json, whose
// doubles are correctly rounded, so that the echoed key can be compared bit for bit.
json::object parse_result_line(const std::string& text, std::size_t line_no)
{
    check(text.find('\n') == text.size() - 1);
    json::error_code ec;
    json::value v = stackone::parse_json(text, ec);
    check(!ec && v.is_object() && v.get_object().at("line") == line_no);
    return std::move(v.get_object());
}

// Equal JSON, doubles bit for bit (-0 is not 0): the importer reads every double correctly
// rounded and Boost.JSON writes the shortest text that reads back as the same double.
bool same_json(const json::value& a, const json::value& b)
{
    if (a.is_double() && b.is_double())
    {
        const double x = a.get_double(), y = b.get_double();
        return std::memcmp(&x, &y, sizeof x) == 0;
    }
    if (a.kind() != b.kind())
        return false;
    if (a.is_array())
    {
        const auto &x = a.get_array(), &y = b.get_array();
        if (x.size() != y.size())
            return false;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (!same_json(x[i], y[i]))
                return false;
        return true;
    }
    if (a.is_object())
    {
        const auto &x = a.get_object(), &y = b.get_object();
        if (x.size() != y.size())
            return false;
        for (const auto& member : x)
        {
            const auto* other = y.if_contains(member.key());
            if (!other || !same_json(member.value(), *other))
                return false;
        }
        return true;
    }
    return a == b;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    constexpr std::size_t line_no = 42;

    // Never throws (it is noexcept: an exception would end the fuzzer).
    auto item = stackone::parse_import_line(line, line_no);
    if (!item)
    {
        // A rejected line says why, and its result line is valid JSON.
        check(!item.error().what.empty());
        const auto record = stackone::make_rejected_record(line_no, item.error().what);
        const auto obj = parse_result_line(stackone::to_json_line(record), line_no);
        check(obj.at("outcome") == "rejected");
        return 0;
    }
    check(item->line == line_no && !item->candidate_id.empty());

    // The request body is a JSON object that reads back as the same note.
    std::string body;
    stackone::serialize_note(item->body, body);
    json::error_code ec;
    const json::value sent = stackone::parse_json(body, ec);
    check(!ec && sent.is_object());
    auto back = stackone::note_from_json(sent.get_object());
    check(back.has_value());
    std::string again;
    stackone::serialize_note(*back, again);
    check(same_json(stackone::parse_json(again, ec), sent) && !ec);

    // The result line echoes the candidate and the key.
    stackone::create_result res;
    res.status = 201;
    res.id = "n-1";
    const auto record = stackone::make_import_record(*item, {}, res);
    const auto obj = parse_result_line(stackone::to_json_line(record), line_no);
    check(obj.at("candidate_id").as_string() == item->candidate_id);
    check(obj.at("outcome") == "created" && obj.at("id") == "n-1");
    if (item->key.is_null())
        check(!obj.contains("key"));
    else
        check(same_json(obj.at("key"), item->key));

    // A numeric key is echoed as written, and its value is the one its text reads as.
    if (!item->key_text.empty())
    {
        check(item->key.is_number());
        const auto result_line = stackone::to_json_line(record);
        check(result_line.find(",\"key\":" + item->key_text + ",") != std::string::npos);
        check(line.find(item->key_text) != std::string_view::npos);
        check(same_json(stackone::parse_json(item->key_text, ec), item->key) && !ec);
    }
    return 0;
}
