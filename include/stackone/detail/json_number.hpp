//
// Finds the numbers of a JSON value that have no JSON text: infinite and NaN doubles.
//
#ifndef STACKONE_DETAIL_JSON_NUMBER_HPP
#define STACKONE_DETAIL_JSON_NUMBER_HPP

#include <stackone/note.hpp>

#include <boost/json/value.hpp>

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stackone::detail {

// Appends @p token to a JSON Pointer (RFC 6901): `~` and `/` are escaped as `~0` and `~1`.
inline void append_pointer_token(std::string& pointer, std::string_view token)
{
    pointer.push_back('/');
    for (char c : token)
    {
        if (c == '~')
            pointer.append("~0");
        else if (c == '/')
            pointer.append("~1");
        else
            pointer.push_back(c);
    }
}

/**
 * The JSON Pointer (relative to @p v, "" for @p v itself) of the first infinite or NaN double
 * in @p v, or nothing when every number is finite. Boost.JSON serializes such a double as
 * `Infinity`, `-Infinity` or `NaN`, which no JSON parser accepts.
 *
 * Iterative, with its own stack: a value built in code may be nested deeper than recursion
 * could safely go.
 */
inline std::optional<std::string> find_non_finite_number(const boost::json::value& v)
{
    // One frame per array or object being walked: the container and the next index in it.
    struct frame
    {
        const boost::json::value* container;
        std::size_t next;
    };
    const auto is_bad = [](const boost::json::value& x) {
        return x.is_double() && !std::isfinite(x.get_double());
    };

    // The path to a bad value: the frames' containers and the index each one was at.
    const auto pointer_of = [](const std::vector<frame>& frames) {
        std::string pointer;
        for (const auto& f : frames)
        {
            const std::size_t at = f.next - 1;
            if (f.container->is_array())
                append_pointer_token(pointer, std::to_string(at));
            else
                append_pointer_token(pointer, f.container->get_object().begin()[at].key());
        }
        return pointer;
    };

    if (is_bad(v))
        return std::string();
    if (!v.is_array() && !v.is_object())
        return std::nullopt;
    std::vector<frame> frames{{&v, 0}};
    while (!frames.empty())
    {
        auto& top = frames.back();
        const boost::json::value* child = nullptr;
        if (top.container->is_array())
        {
            const auto& a = top.container->get_array();
            if (top.next < a.size())
                child = &a[top.next];
        }
        else
        {
            const auto& o = top.container->get_object();
            if (top.next < o.size())
                child = &o.begin()[top.next].value();
        }
        if (!child)
        {
            frames.pop_back();
            continue;
        }
        ++top.next;
        if (is_bad(*child))
            return pointer_of(frames);
        if (child->is_array() || child->is_object())
            frames.push_back({child, 0});
    }
    return std::nullopt;
}

/**
 * The JSON Pointer (in the request body, e.g. `/passthrough/scores/2`) of the first infinite or
 * NaN double of @p n, or nothing. Only `passthrough` and `visibility.source_value` hold
 * arbitrary JSON; every other member is a string.
 */
inline std::optional<std::string> find_non_finite_number(const note& n)
{
    if (!n.visibility.is_absent() && !n.visibility.is_null() && n.visibility.value().source_value)
    {
        if (auto at = find_non_finite_number(*n.visibility.value().source_value))
            return "/visibility/source_value" + *at;
    }
    if (!n.passthrough.is_absent() && !n.passthrough.is_null())
    {
        // A json::object is not a json::value; the walk needs one to start from.
        for (const auto& member : n.passthrough.value())
        {
            if (auto at = find_non_finite_number(member.value()))
            {
                std::string pointer = "/passthrough";
                append_pointer_token(pointer, member.key());
                return pointer + *at;
            }
        }
    }
    return std::nullopt;
}

} // namespace stackone::detail

#endif
