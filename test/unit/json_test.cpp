// JSON mapping both ways: the note model, import lines, result lines.
#include <stackone/detail/json_number.hpp>
#include <stackone/detail/json_write.hpp>
#include <stackone/error.hpp>
#include <stackone/import.hpp>
#include <stackone/note.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

using namespace stackone;
namespace json = boost::json;

namespace {

// The double nearest @p text: std::from_chars rounds correctly.
double nearest_double(std::string_view text)
{
    double d = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    BOOST_TEST_REQUIRE((ec == std::errc() && end == text.data() + text.size()), text);
    return d;
}

// The same double, bit for bit (so -0 and 0 differ).
bool same_bits(double a, double b)
{
    return std::memcmp(&a, &b, sizeof a) == 0;
}

// Numbers whose text a double cannot hold exactly; the first two Boost.JSON 1.81 reads one
// unit in the last place off.
constexpr const char* hard_numbers[] = {
    "9007199254740993.5",
    "2.4703282292062328e-324",
    "0.1",
    "1e-7",
    "2.2250738585072014e-308",
    "123456789012345678901234567890",
    "-0.0",
    "1.7976931348623157e308",
    "3.141592653589793238462643383279",
};

} // namespace

BOOST_AUTO_TEST_SUITE(json_mapping)

BOOST_AUTO_TEST_CASE(string_escaping_matches_boost_json_for_every_byte)
{
    // Every single byte below 0x80, plus UTF-8 text, escapes exactly as Boost.JSON does.
    for (int c = 0; c < 0x80; ++c)
    {
        const std::string s = "a" + std::string(1, static_cast<char>(c)) + "b";
        std::string ours;
        detail::append_json_string(ours, s);
        BOOST_TEST_CONTEXT("byte " << c)
        {
            BOOST_TEST(ours == json::serialize(json::string(s)));
        }
    }
    std::string ours;
    detail::append_json_string(ours, "Grüße \"日本\" \\ \t😀");
    BOOST_TEST(ours == json::serialize(json::string("Grüße \"日本\" \\ \t😀")));
}

BOOST_AUTO_TEST_CASE(string_escaping_matches_boost_json_at_every_offset_of_long_text)
{
    // Long text is scanned eight bytes at a time: every ASCII byte, at each offset within a
    // word and near the end, in plain text of every length up to three words.
    for (int c = 0; c < 0x80; ++c)
    {
        for (std::size_t len = 1; len <= 24; ++len)
        {
            for (std::size_t at = 0; at < len; ++at)
            {
                std::string s(len, 'x');
                s[at] = static_cast<char>(c);
                std::string ours;
                detail::append_json_string(ours, s);
                if (ours != json::serialize(json::string(s)))
                    BOOST_ERROR("byte " << c << " at " << at << " of " << len);
            }
        }
    }
    // Bytes >= 0x80 (as in UTF-8) never count as needing an escape.
    const std::string utf8 = "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 abcdefgh";
    std::string ours;
    detail::append_json_string(ours, utf8);
    BOOST_TEST(ours == json::serialize(json::string(utf8)));
}

BOOST_AUTO_TEST_CASE(empty_note_serializes_to_empty_object)
{
    std::string out;
    serialize_note(note{}, out);
    BOOST_TEST(out == "{}");
}

BOOST_AUTO_TEST_CASE(absent_and_null_are_kept_apart)
{
    note n;
    n.author_id = stackone::null;
    n.passthrough = stackone::null;
    std::string out;
    serialize_note(n, out);
    BOOST_TEST(out == R"({"author_id":null,"passthrough":null})");

    auto back = note_from_json(json::parse(out).as_object());
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->author_id.is_null());
    BOOST_TEST(back->passthrough.is_null());
    BOOST_TEST(back->content.is_absent());
    BOOST_TEST(back->visibility.is_absent());
}

BOOST_AUTO_TEST_CASE(full_note_round_trips)
{
    note n;
    n.content =
        std::vector<note_content>{{std::string("Strong \"phone\" screen\n")}, {stackone::null}, {}};
    n.author_id = "u-1";
    n.visibility = note_visibility{visibility_value::private_(), json::value({{"k", 1}})};
    n.passthrough = json::object{{"source", "x"}, {"tags", json::array{"a", "b"}}};

    std::string out;
    serialize_note(n, out);
    const json::value v = json::parse(out);
    BOOST_TEST(v.at("content").as_array().size() == 3u);
    BOOST_TEST(v.at("content").at(1).at("body").is_null());
    BOOST_TEST(v.at("content").at(2).as_object().empty());
    BOOST_TEST(v.at("visibility").at("value") == "private");
    BOOST_TEST(v.at("visibility").at("source_value").at("k") == 1);

    auto back = note_from_json(v.as_object());
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST((*back == n));
}

BOOST_AUTO_TEST_CASE(visibility_is_an_open_enum)
{
    auto n = note_from_json(json::parse(R"({"visibility":{"value":"team_only"}})").as_object());
    BOOST_TEST_REQUIRE(n.has_value());
    const auto& value = n->visibility.value().value.value();
    BOOST_TEST(value.str() == "team_only");
    BOOST_TEST((value.kind() == visibility_value::known::other));
    BOOST_TEST((visibility_value::public_().kind() == visibility_value::known::public_));

    std::string out;
    serialize_note(*n, out);
    BOOST_TEST(out == R"({"visibility":{"value":"team_only"}})");
}

BOOST_AUTO_TEST_CASE(source_value_takes_any_json_and_null)
{
    for (const char* src : {R"("Public")", "3", "[1,2]", R"({"a":{"b":null}})", "null", "true"})
    {
        const std::string doc = std::string(R"({"visibility":{"source_value":)") + src + "}}";
        auto n = note_from_json(json::parse(doc).as_object());
        BOOST_TEST_REQUIRE(n.has_value());
        std::string out;
        serialize_note(*n, out);
        BOOST_TEST(json::parse(out) == json::parse(doc));
    }
}

BOOST_AUTO_TEST_CASE(wrong_member_types_name_the_member)
{
    struct row
    {
        const char* doc;
        const char* member;
    };
    const row table[] = {
        {R"({"content":"x"})", "content"},
        {R"({"content":[1]})", "content[0]"},
        {R"({"content":[{"body":1}]})", "content[0].body"},
        {R"({"author_id":5})", "author_id"},
        {R"({"visibility":"public"})", "visibility"},
        {R"({"visibility":{"value":3}})", "visibility.value"},
        {R"({"passthrough":[1]})", "passthrough"},
    };
    for (const auto& r : table)
    {
        BOOST_TEST_CONTEXT(r.doc)
        {
            auto n = note_from_json(json::parse(r.doc).as_object());
            BOOST_TEST_REQUIRE(n.has_error());
            BOOST_TEST(n.error().what.find(r.member) == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_members_are_ignored_by_the_model)
{
    auto n = note_from_json(json::parse(R"({"body":"x","extra":1})").as_object());
    BOOST_TEST_REQUIRE(n.has_value());
    BOOST_TEST(n->content.is_absent());
}

BOOST_AUTO_TEST_CASE(import_line_accepts_shorthands)
{
    auto item = parse_import_line(
        R"({"candidate_id":"c-1","body":"hello","visibility":"public","key":"k-1"})", 7);
    BOOST_TEST_REQUIRE(item.has_value());
    BOOST_TEST(item->line == 7u);
    BOOST_TEST(item->candidate_id == "c-1");
    BOOST_TEST(item->key == "k-1");
    BOOST_TEST(item->body.content.value().at(0).body.value() == "hello");
    BOOST_TEST(item->body.visibility.value().value.value().str() == "public");
}

BOOST_AUTO_TEST_CASE(import_line_reports_what_is_wrong)
{
    struct row
    {
        const char* line;
        const char* says;
    };
    const row table[] = {
        {"not json", "not valid JSON"},
        {"[1]", "not a JSON object"},
        {R"({"body":"x"})", "candidate_id is missing"},
        {R"({"candidate_id":""})", "candidate_id must be a non-empty string"},
        {R"({"candidate_id":7})", "candidate_id must be a non-empty string"},
        {R"({"candidate_id":"c","account_id":1})", "account_id must be a string"},
        {R"({"candidate_id":"c","body":"x","content":[]})", "both present"},
        {R"({"candidate_id":"c","content":[{"body":false}]})", "content[0].body"},
        {"{\"candidate_id\":\"c\",\"body\":\"\xff\"}", "not valid UTF-8 at column 29"},
        {"{\"body\":\"caf\xc3\"}", "not valid UTF-8 at column 13"},  // cut sequence
        {"{\"body\":\"\xc0\xaf\"}", "not valid UTF-8 at column 10"}, // overlong '/'
        {"{\"body\":\"\xed\xa0\x80\"}", "not valid UTF-8"},          // a surrogate
        {"{\"body\":\"\xf4\x90\x80\x80\"}", "not valid UTF-8"},      // above U+10FFFF
        {"\x7f\x45LF\x02\x01", "binary data (a control byte) at column 5"},
        {"\xef\xbb\xbf{\"candidate_id\":\"c\"}", "byte order mark"},
        {"{\"body\":\"caf\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\" x}",
         "not valid JSON"}, // valid UTF-8
        // Found by test/fuzz/fuzz_import_line: 1e400 parsed as infinity and was written back
        // as `Infinity`, so the result line (and a request body) was not JSON.
        {R"({"candidate_id":"c","key":1e400})", "too large for a double"},
        {R"({"candidate_id":"c","passthrough":{"a":[-1e999]}})", "too large for a double"},
        {R"({"candidate_id":"c","visibility":{"source_value":{"x":2e308}}})", "too large"},
        // A misspelt field would be dropped and the note created without it.
        {R"({"candidate_id":"c","body":"x","visiblity":"private"})", "unknown field \"visiblity\""},
        {R"({"candidate_id":"c","content":[{"body":"a"},{"bdy":"b"}]})",
         "unknown field \"content[1].bdy\""},
        {R"({"candidate_id":"c","visibility":{"valu":"public"}})",
         "unknown field \"visibility.valu\""},
        // Cut at 40 bytes, but never inside a character: 39 ASCII bytes, then a 2-byte one.
        {"{\"candidate_id\":\"c\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9x\":1}",
         "unknown field \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""},
    };
    for (const auto& r : table)
    {
        BOOST_TEST_CONTEXT(r.line)
        {
            auto item = parse_import_line(r.line, 3);
            BOOST_TEST_REQUIRE(item.has_error());
            BOOST_TEST(item.error().what.find(r.says) != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(result_line_for_created_note)
{
    import_item item;
    item.line = 12;
    item.candidate_id = "c/1";
    item.key = "k";
    create_result res;
    res.status = 201;
    res.id = "n-1";
    res.remote_id = stackone::null;
    res.diag.attempts = 2;
    const auto rec = make_import_record(item, {}, res);
    const json::value v = json::parse(to_json_line(rec));
    BOOST_TEST(v.at("line") == 12);
    BOOST_TEST(v.at("key") == "k");
    BOOST_TEST(v.at("candidate_id") == "c/1");
    BOOST_TEST(v.at("outcome") == "created");
    BOOST_TEST(v.at("status") == 201);
    BOOST_TEST(v.at("id") == "n-1");
    BOOST_TEST(v.at("remote_id").is_null());
    BOOST_TEST(v.at("attempts") == 2);
    BOOST_TEST(!v.as_object().contains("error"));
}

BOOST_AUTO_TEST_CASE(result_outcome_follows_what_may_have_happened)
{
    import_item item;
    item.line = 1;
    item.candidate_id = "c";
    create_result res;

    res.diag.may_have_been_processed = false;
    BOOST_TEST(
        (make_import_record(item, errc::connect_failed, res).outcome == import_outcome::failed));

    res.diag.may_have_been_processed = true;
    BOOST_TEST((make_import_record(item, errc::connection_closed, res).outcome ==
                import_outcome::unknown));
    BOOST_TEST(
        (make_import_record(item, make_http_error(422), res).outcome == import_outcome::failed));
    BOOST_TEST(
        (make_import_record(item, make_http_error(408), res).outcome == import_outcome::unknown));
    // A provider may have created the note behind a 5xx, but not behind a 501 or a 4xx.
    for (int status : {500, 502, 503, 504})
        BOOST_TEST((make_import_record(item, make_http_error(status), res).outcome ==
                    import_outcome::unknown),
                   status);
    for (int status : {400, 401, 403, 404, 409, 412, 429, 501})
        BOOST_TEST((make_import_record(item, make_http_error(status), res).outcome ==
                    import_outcome::failed),
                   status);

    res.diag.message = "Provider said no";
    const auto rec = make_import_record(item, make_http_error(422), res);
    BOOST_TEST(rec.status == 422);
    BOOST_TEST(rec.error.find("Provider said no") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parse_json_rounds_every_double_to_the_nearest)
{
    // Without the fix this fails: Boost.JSON 1.81 reads it as 9007199254740992.
    BOOST_TEST(!same_bits(json::parse("9007199254740993.5").as_double(),
                          nearest_double("9007199254740993.5")));
    for (const char* text : hard_numbers)
    {
        BOOST_TEST_CONTEXT(text)
        {
            json::error_code ec;
            const auto v = parse_json(std::string("[") + text + "]", ec);
            BOOST_TEST_REQUIRE(!ec);
            BOOST_TEST(same_bits(v.as_array().at(0).as_double(), nearest_double(text)));
        }
    }

    // Out of a double's range: infinity and zero, as before.
    json::error_code ec;
    const auto v = parse_json(R"({"big":-1e400,"tiny":1e-400,"n":18446744073709551615})", ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(v.at("big").as_double() == -std::numeric_limits<double>::infinity());
    BOOST_TEST(v.at("tiny").as_double() == 0.0);
    BOOST_TEST(v.at("n").as_uint64() == 18446744073709551615u);

    // What is not one JSON value is refused, as by boost::json::parse.
    for (const char* bad : {"", "[1,", "{\"a\":1} x", "01", "[1.]", "NaN", "// c\n1"})
    {
        json::error_code bad_ec;
        BOOST_TEST(parse_json(bad, bad_ec).is_null(), bad);
        BOOST_TEST(bad_ec.failed(), bad);
    }
}

BOOST_AUTO_TEST_CASE(numeric_keys_are_echoed_exactly_as_written)
{
    std::vector<std::string> keys(std::begin(hard_numbers), std::end(hard_numbers));
    for (const char* k : {"0.10", "1E2", "-0", "42", "-7", "18446744073709551615"})
        keys.emplace_back(k);
    for (const auto& key : keys)
    {
        BOOST_TEST_CONTEXT(key)
        {
            auto item = parse_import_line(R"({"candidate_id":"c-1","key":)" + key + "}", 5);
            BOOST_TEST_REQUIRE(item.has_value());
            BOOST_TEST(item->key_text == key);
            const auto line = to_json_line(make_import_record(*item, {}, create_result{}));
            BOOST_TEST(line.find(",\"key\":" + key + ",") != std::string::npos, line);

            // The value read back is the nearest double (or the exact integer).
            json::error_code ec;
            const auto back = parse_json(line, ec);
            BOOST_TEST_REQUIRE(!ec);
            const auto& echoed = back.at("key");
            if (echoed.is_double())
                BOOST_TEST(same_bits(echoed.get_double(), nearest_double(key)));
            else
                BOOST_TEST(echoed == json::parse(key));
            BOOST_TEST(echoed == item->key);
        }
    }
}

BOOST_AUTO_TEST_CASE(only_the_last_top_level_key_member_is_echoed_as_text)
{
    // The object keeps the last of duplicate members; so does the key's text.
    auto item = parse_import_line(R"({"key":1.50,"candidate_id":"c","key":"s"})", 1);
    BOOST_TEST_REQUIRE(item.has_value());
    BOOST_TEST(item->key == "s");
    BOOST_TEST(item->key_text.empty());

    item = parse_import_line(R"({"key":"s","candidate_id":"c","key":1.50})", 1);
    BOOST_TEST_REQUIRE(item.has_value());
    BOOST_TEST(item->key_text == "1.50");

    // A "key" inside another member is not the line's key.
    item = parse_import_line(R"({"candidate_id":"c","passthrough":{"key":0.5,"k":{"key":1}}})", 1);
    BOOST_TEST_REQUIRE(item.has_value());
    BOOST_TEST(item->key.is_null());
    BOOST_TEST(item->key_text.empty());
    BOOST_TEST(to_json_line(make_import_record(*item, {}, create_result{})).find("key") ==
               std::string::npos);

    // Keys that are no number are echoed by value, exactly (strings, objects with numbers).
    item = parse_import_line(R"({"candidate_id":"c","key":{"a":[9007199254740993.5,"x"]}})", 1);
    BOOST_TEST_REQUIRE(item.has_value());
    BOOST_TEST(item->key_text.empty());
    json::error_code ec;
    const auto back = parse_json(to_json_line(make_import_record(*item, {}, create_result{})), ec);
    BOOST_TEST(
        same_bits(back.at("key").at("a").at(0).as_double(), nearest_double("9007199254740993.5")));
}

BOOST_AUTO_TEST_CASE(doubles_in_passthrough_and_source_value_are_sent_exactly)
{
    const std::string x = "9007199254740993.5";
    const std::string y = "2.4703282292062328e-324";
    auto item =
        parse_import_line(R"({"candidate_id":"c","passthrough":{"x":)" + x + R"(,"y":[)" + y +
                              R"(]},"visibility":{"value":"public","source_value":)" + x + "}}",
                          1);
    BOOST_TEST_REQUIRE(item.has_value());
    std::string body;
    serialize_note(item->body, body);
    json::error_code ec;
    const auto sent = parse_json(body, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(same_bits(sent.at("passthrough").at("x").as_double(), nearest_double(x)));
    BOOST_TEST(same_bits(sent.at("passthrough").at("y").at(0).as_double(), nearest_double(y)));
    BOOST_TEST(same_bits(sent.at("visibility").at("source_value").as_double(), nearest_double(x)));
    BOOST_TEST(
        same_bits(to_json(item->body).at("passthrough").at("x").as_double(), nearest_double(x)));
}

BOOST_AUTO_TEST_CASE(non_finite_numbers_are_found_with_their_json_pointer)
{
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();

    note n = note::from_text("x");
    BOOST_TEST(!detail::find_non_finite_number(n));
    n.passthrough = json::object{{"fine", json::array{1, 2.5, "s", nullptr}}};
    BOOST_TEST(!detail::find_non_finite_number(n));

    n.passthrough = json::object{{"ok", 1}, {"a/b~", json::array{1, json::object{{"s", -inf}}}}};
    BOOST_TEST(detail::find_non_finite_number(n).value_or("") == "/passthrough/a~1b~0/1/s");

    note v;
    v.visibility = note_visibility{.value = {}, .source_value = json::value(nan)};
    BOOST_TEST(detail::find_non_finite_number(v).value_or("") == "/visibility/source_value");
    v.visibility =
        note_visibility{.value = {}, .source_value = json::array{json::array{}, json::array{inf}}};
    BOOST_TEST(detail::find_non_finite_number(v).value_or("") == "/visibility/source_value/1/0");

    // Deeper than a recursive walk could safely go: still found, no stack overflow.
    json::value deep = json::array{inf};
    for (int i = 0; i < 10000; ++i)
    {
        json::array outer;
        outer.emplace_back(0);
        outer.emplace_back(std::move(deep));
        deep = std::move(outer);
    }
    const auto at = detail::find_non_finite_number(deep);
    BOOST_TEST_REQUIRE(at.has_value());
    BOOST_TEST(at->size() == 10000u * 2 + 2);

    const auto message = make_error_code(errc::non_finite_number).message();
    BOOST_TEST(message.find("infinite or NaN") != std::string::npos);
    BOOST_TEST(message.find("nothing was sent") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rejected_line_names_its_number)
{
    const json::value v = json::parse(to_json_line(make_rejected_record(41, "not a JSON object")));
    BOOST_TEST(v.at("line") == 41);
    BOOST_TEST(v.at("outcome") == "rejected");
    BOOST_TEST(v.at("error") == "line 41: not a JSON object");
}

BOOST_AUTO_TEST_SUITE_END()
