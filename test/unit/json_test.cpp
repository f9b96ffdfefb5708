// JSON mapping both ways: the note model, import lines, result lines.
#include <stackone/detail/json_write.hpp>
#include <stackone/import.hpp>
#include <stackone/note.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

using namespace stackone;
namespace json = boost::json;

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

BOOST_AUTO_TEST_CASE(rejected_line_names_its_number)
{
    const json::value v = json::parse(to_json_line(make_rejected_record(41, "not a JSON object")));
    BOOST_TEST(v.at("line") == 41);
    BOOST_TEST(v.at("outcome") == "rejected");
    BOOST_TEST(v.at("error") == "line 41: not a JSON object");
}

BOOST_AUTO_TEST_SUITE_END()
