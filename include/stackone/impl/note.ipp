//
// Out-of-line bodies of note.hpp.
//
#ifndef STACKONE_IMPL_NOTE_IPP
#define STACKONE_IMPL_NOTE_IPP

#include <stackone/detail/json_write.hpp>
#include <stackone/impl/internal/exact_json.hpp>
#include <stackone/note.hpp>

#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

#include <stdexcept>

namespace stackone {

STACKONE_DECL void throw_exception_from_error(const decode_error& e,
                                              const boost::source_location& loc)
{
    boost::throw_exception(std::invalid_argument(e.what), loc);
}

namespace detail {

// Writes `"name":` with a leading comma when something precedes it.
inline void append_member_name(std::string& out, bool& first, std::string_view name)
{
    if (!first)
        out.push_back(',');
    first = false;
    append_json_string(out, name);
    out.push_back(':');
}

inline void append_nullable_string(std::string& out, const field<std::string>& f)
{
    if (f.is_null())
        out.append("null");
    else
        append_json_string(out, f.value());
}

} // namespace detail

STACKONE_DECL void serialize_note(const note& n, std::string& out)
{
    bool first = true;
    out.push_back('{');

    if (!n.content.is_absent())
    {
        detail::append_member_name(out, first, "content");
        if (n.content.is_null())
        {
            out.append("null");
        }
        else
        {
            out.push_back('[');
            bool first_item = true;
            for (const auto& item : n.content.value())
            {
                if (!first_item)
                    out.push_back(',');
                first_item = false;
                out.push_back('{');
                bool first_member = true;
                if (!item.body.is_absent())
                {
                    detail::append_member_name(out, first_member, "body");
                    detail::append_nullable_string(out, item.body);
                }
                out.push_back('}');
            }
            out.push_back(']');
        }
    }

    if (!n.author_id.is_absent())
    {
        detail::append_member_name(out, first, "author_id");
        detail::append_nullable_string(out, n.author_id);
    }

    if (!n.visibility.is_absent())
    {
        detail::append_member_name(out, first, "visibility");
        if (n.visibility.is_null())
        {
            out.append("null");
        }
        else
        {
            const auto& vis = n.visibility.value();
            out.push_back('{');
            bool first_member = true;
            if (!vis.value.is_absent())
            {
                detail::append_member_name(out, first_member, "value");
                if (vis.value.is_null())
                    out.append("null");
                else
                    detail::append_json_string(out, vis.value.value().str());
            }
            if (vis.source_value)
            {
                detail::append_member_name(out, first_member, "source_value");
                out.append(boost::json::serialize(*vis.source_value));
            }
            out.push_back('}');
        }
    }

    // An infinite or NaN double would come out as `Infinity` or `NaN` (Boost.JSON), which is
    // not JSON: the client refuses such a note before this (errc::non_finite_number).
    if (!n.passthrough.is_absent())
    {
        detail::append_member_name(out, first, "passthrough");
        if (n.passthrough.is_null())
            out.append("null");
        else
            out.append(boost::json::serialize(n.passthrough.value()));
    }

    out.push_back('}');
}

STACKONE_DECL boost::json::value to_json(const note& n)
{
    std::string text;
    serialize_note(n, text);
    boost::system::error_code ec;
    auto v = parse_json(text, ec);
    if (ec)
        throw boost::system::system_error(ec);
    return v;
}

STACKONE_DECL boost::json::value parse_json(std::string_view text, boost::system::error_code& ec)
{
    return detail::parse_json_exact(text, ec);
}

namespace detail {

using note_result = boost::system::result<note, decode_error>;

inline decode_error member_error(std::string_view member, std::string_view expected)
{
    return decode_error{std::string(member) + " must be " + std::string(expected)};
}

// Reads a member that must be a string or null.
inline bool read_nullable_string(const boost::json::value& v, field<std::string>& out)
{
    if (v.is_null())
    {
        out = stackone::null;
        return true;
    }
    if (!v.is_string())
        return false;
    out = std::string(v.get_string());
    return true;
}

inline boost::system::result<note_visibility, decode_error>
read_visibility(const boost::json::object& obj)
{
    note_visibility vis;
    if (const auto* value = obj.if_contains("value"))
    {
        if (value->is_null())
            vis.value = stackone::null;
        else if (value->is_string())
            vis.value = visibility_value(std::string(value->get_string()));
        else
            return member_error("visibility.value", "a string or null");
    }
    if (const auto* source = obj.if_contains("source_value"))
        vis.source_value = *source;
    return vis;
}

} // namespace detail

STACKONE_DECL boost::system::result<note, decode_error>
note_from_json(const boost::json::object& obj, bool allow_shorthands)
{
    note n;

    if (const auto* content = obj.if_contains("content"))
    {
        if (content->is_null())
        {
            n.content = stackone::null;
        }
        else if (content->is_array())
        {
            std::vector<note_content> items;
            items.reserve(content->get_array().size());
            std::size_t index = 0;
            for (const auto& item : content->get_array())
            {
                const std::string where = "content[" + std::to_string(index++) + "]";
                if (!item.is_object())
                    return detail::member_error(where, "an object");
                note_content c;
                if (const auto* body = item.get_object().if_contains("body"))
                {
                    if (!detail::read_nullable_string(*body, c.body))
                        return detail::member_error(where + ".body", "a string or null");
                }
                items.push_back(std::move(c));
            }
            n.content = std::move(items);
        }
        else
        {
            return detail::member_error("content", "an array or null");
        }
    }

    // The spec allows unknown members, so without shorthands "body" is simply not ours.
    const auto* body = allow_shorthands ? obj.if_contains("body") : nullptr;
    if (body)
    {
        if (obj.contains("content"))
            return decode_error{"body and content are both present; give only one"};
        if (!body->is_string())
            return detail::member_error("body", "a string");
        n.content = std::vector<note_content>{note_content{std::string(body->get_string())}};
    }

    if (const auto* author = obj.if_contains("author_id"))
    {
        if (!detail::read_nullable_string(*author, n.author_id))
            return detail::member_error("author_id", "a string or null");
    }

    if (const auto* vis = obj.if_contains("visibility"))
    {
        if (vis->is_null())
        {
            n.visibility = stackone::null;
        }
        else if (vis->is_object())
        {
            auto parsed = detail::read_visibility(vis->get_object());
            if (!parsed)
                return parsed.error();
            n.visibility = std::move(*parsed);
        }
        else if (vis->is_string() && allow_shorthands)
        {
            n.visibility =
                note_visibility{visibility_value(std::string(vis->get_string())), std::nullopt};
        }
        else
        {
            return detail::member_error("visibility", "an object or null");
        }
    }

    if (const auto* passthrough = obj.if_contains("passthrough"))
    {
        if (passthrough->is_null())
            n.passthrough = stackone::null;
        else if (passthrough->is_object())
            n.passthrough = passthrough->get_object();
        else
            return detail::member_error("passthrough", "an object or null");
    }

    return n;
}

} // namespace stackone

#endif
