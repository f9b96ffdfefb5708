//
// The request model: AtsCreateNotesRequestDto.
//
#ifndef STACKONE_NOTE_HPP
#define STACKONE_NOTE_HPP

#include <stackone/config.hpp>
#include <stackone/field.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stackone {

/// One item of a note's `content` array.
struct note_content
{
    /// The text. May be absent, null or any string (empty included).
    field<std::string> body;

    friend bool operator==(const note_content&, const note_content&) = default;
};

/**
 * @brief The open enum of `visibility.value`.
 *
 * The spec lists `private`, `public` and `unmapped_value`; providers may add values, so any
 * string is kept as it was received and sent back unchanged.
 */
class visibility_value
{
public:
    /// The values the spec names, and `other` for anything else.
    enum class known
    {
        private_,
        public_,
        unmapped_value,
        other,
    };

    /// Wraps any string, known or not.
    explicit visibility_value(std::string value) : value_(std::move(value)) {}

    static visibility_value private_() { return visibility_value("private"); }
    static visibility_value public_() { return visibility_value("public"); }
    static visibility_value unmapped() { return visibility_value("unmapped_value"); }

    /// The string as sent on the wire.
    const std::string& str() const noexcept { return value_; }

    /// Which of the spec's values this is.
    known kind() const noexcept
    {
        if (value_ == "private")
            return known::private_;
        if (value_ == "public")
            return known::public_;
        if (value_ == "unmapped_value")
            return known::unmapped_value;
        return known::other;
    }

    friend bool operator==(const visibility_value&, const visibility_value&) = default;

private:
    std::string value_;
};

/// `NotesVisibilityEnum`: an object, never a bare string on the wire.
struct note_visibility
{
    /// `value`: absent, null or one of the (open) enum values.
    field<visibility_value> value;

    /// `source_value`: any JSON, passed through as received. `std::nullopt` omits it; a JSON
    /// `null` value sends `null`.
    std::optional<boost::json::value> source_value;

    friend bool operator==(const note_visibility&, const note_visibility&) = default;
};

/**
 * @brief The body of a "Create Candidate Note" request (`AtsCreateNotesRequestDto`).
 *
 * Every member is optional and nullable; absent members are not serialized.
 *
 * @par Example
 * @code
 * stackone::note n;
 * n.content = std::vector<stackone::note_content>{{.body = "Strong phone screen."}};
 * n.visibility = stackone::note_visibility{.value = stackone::visibility_value::private_()};
 * @endcode
 */
struct note
{
    field<std::vector<note_content>> content;
    field<std::string> author_id;
    field<note_visibility> visibility;

    /// Free-form object forwarded to the provider.
    field<boost::json::object> passthrough;

    /// A note with a single content item holding @p text.
    static note from_text(std::string text)
    {
        note n;
        n.content = std::vector<note_content>{note_content{std::move(text)}};
        return n;
    }

    friend bool operator==(const note&, const note&) = default;
};

/// Why a JSON document could not be read as a model; `what` names the member at fault.
struct decode_error
{
    std::string what;
};

/// Lets `boost::system::result<T, decode_error>::value()` throw a readable exception.
[[noreturn]] STACKONE_DECL void throw_exception_from_error(const decode_error& e,
                                                           const boost::source_location& loc);

/// Appends the note as compact JSON to @p out. Members are written in a fixed order.
STACKONE_DECL void serialize_note(const note& n, std::string& out);

/// The note as a Boost.JSON value (for inspection and tests; the client uses serialize_note).
STACKONE_DECL boost::json::value to_json(const note& n);

/**
 * @brief Parses JSON text like `boost::json::parse`, but with correctly rounded doubles.
 *
 * Boost.JSON 1.81 may read a double one unit in the last place off (it has no
 * `number_precision::precise` before 1.83): `9007199254740993.5` becomes 9007199254740992, not
 * the nearest double 9007199254740994. Here every double is the one nearest its text
 * (`std::from_chars`); integers, strings and structure are as Boost.JSON reads them, with its
 * default options (strict JSON, depth 32). The importer reads its lines with it.
 *
 * @returns the value, or null with @p ec set when @p text is not one JSON value.
 * @par Exception safety
 * Throws only `std::bad_alloc`.
 */
STACKONE_DECL boost::json::value parse_json(std::string_view text, boost::system::error_code& ec);

/**
 * @brief Reads a note from a JSON object, as in the spec.
 *
 * Unknown members are ignored. When @p allow_shorthands is true, the importer's shorthands are
 * accepted too: `"body": "text"` for a one-item `content`, and `"visibility": "public"` for
 * `{"value": "public"}`.
 */
STACKONE_DECL boost::system::result<note, decode_error>
note_from_json(const boost::json::object& obj, bool allow_shorthands = false);

} // namespace stackone

#ifdef STACKONE_HEADER_ONLY
#include <stackone/impl/note.ipp>
#endif

#endif
