//
// JSON parsing whose doubles are correctly rounded, for Boost.JSON 1.81.
//
#ifndef STACKONE_IMPL_INTERNAL_EXACT_JSON_HPP
#define STACKONE_IMPL_INTERNAL_EXACT_JSON_HPP

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace stackone::detail {

/**
 * A Boost.JSON basic_parser handler that builds the same value as boost::json::parse, except
 * that each double is read again from its text with std::from_chars, which rounds correctly:
 * the parser of Boost.JSON 1.81 may be one unit in the last place off (9007199254740993.5 comes
 * out as ...992, not ...994), and it has no number_precision::precise before 1.83.
 *
 * It can also keep the text of the number held by one member of the top-level object (the
 * import's `key`), so that it can be written back exactly as it was, digits beyond a double's
 * precision included.
 */
class exact_json_handler
{
public:
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    exact_json_handler(unsigned char* temp, std::size_t temp_size, std::string_view watched)
        : st({}, temp, temp_size), watched_(watched)
    {}

    boost::json::value_stack st;

    /// The text of the number held by the last `watched` member of the top-level object, or
    /// "" when that member is absent or not a number.
    std::string watched_text;

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }

    bool on_object_begin(boost::json::error_code&)
    {
        value_starts(false);
        ++depth_;
        return true;
    }

    bool on_object_end(std::size_t n, boost::json::error_code&)
    {
        --depth_;
        st.push_object(n);
        return true;
    }

    bool on_array_begin(boost::json::error_code&)
    {
        value_starts(false);
        ++depth_;
        return true;
    }

    bool on_array_end(std::size_t n, boost::json::error_code&)
    {
        --depth_;
        st.push_array(n);
        return true;
    }

    bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&)
    {
        if (depth_ == 1)
            key_.append(s.data(), s.size());
        st.push_chars(s);
        return true;
    }

    bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code&)
    {
        if (depth_ == 1)
        {
            key_.append(s.data(), s.size());
            watching_ = !watched_.empty() && key_ == watched_;
            key_.clear();
        }
        st.push_key(s);
        return true;
    }

    bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&)
    {
        value_starts(false);
        st.push_chars(s);
        return true;
    }

    bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code&)
    {
        value_starts(false);
        st.push_string(s);
        return true;
    }

    // A number may come in parts when the input is given in pieces; they are joined here.
    bool on_number_part(boost::json::string_view s, boost::json::error_code&)
    {
        number_.append(s.data(), s.size());
        return true;
    }

    bool on_int64(std::int64_t i, boost::json::string_view s, boost::json::error_code&)
    {
        number_ends(s);
        st.push_int64(i);
        number_.clear();
        return true;
    }

    bool on_uint64(std::uint64_t u, boost::json::string_view s, boost::json::error_code&)
    {
        number_ends(s);
        st.push_uint64(u);
        number_.clear();
        return true;
    }

    bool on_double(double d, boost::json::string_view s, boost::json::error_code&)
    {
        number_ends(s);

        // Out of range (1e400, 1e-400) from_chars leaves the value alone: Boost.JSON's infinity
        // or zero stands, which is the correctly rounded result too.
        double exact = d;
        const char* first = number_.data();
        const char* last = first + number_.size();
        auto [end, ec] = std::from_chars(first, last, exact);
        if (ec != std::errc() || end != last)
            exact = d;
        st.push_double(exact);
        number_.clear();
        return true;
    }

    bool on_bool(bool b, boost::json::error_code&)
    {
        value_starts(false);
        st.push_bool(b);
        return true;
    }

    bool on_null(boost::json::error_code&)
    {
        value_starts(false);
        st.push_null();
        return true;
    }

    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

private:
    // The value of the watched member starts: its text is kept if it is a number (the last
    // such member wins, as in the object Boost.JSON builds).
    void value_starts(bool is_number)
    {
        if (!watching_)
            return;
        watching_ = false;
        if (is_number)
            watched_text = number_;
        else
            watched_text.clear();
    }

    void number_ends(boost::json::string_view s)
    {
        number_.append(s.data(), s.size());
        value_starts(true);
    }

    std::string_view watched_;
    std::size_t depth_ = 0;
    std::string key_;
    std::string number_;
    bool watching_ = false;
};

/**
 * Parses @p text like boost::json::parse (default options: strict JSON, depth 32), with
 * correctly rounded doubles. When @p watched is not empty and @p watched_text is not null, the
 * text of the number held by that member of the top-level object is stored in *@p
 * watched_text ("" when there is none). Throws only std::bad_alloc.
 */
inline boost::json::value parse_json_exact(std::string_view text,
                                           boost::json::error_code& ec,
                                           std::string_view watched = {},
                                           std::string* watched_text = nullptr)
{
    unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
    boost::json::basic_parser<exact_json_handler> p(
        boost::json::parse_options(), temp, sizeof temp, watched_text ? watched : "");
    p.handler().st.reset();
    const auto used = p.write_some(false, text.data(), text.size(), ec);
    if (!ec && used < text.size())
        ec = boost::json::error::extra_data;
    if (ec)
        return nullptr;
    if (watched_text)
        *watched_text = std::move(p.handler().watched_text);
    return p.handler().st.release();
}

} // namespace stackone::detail

#endif
