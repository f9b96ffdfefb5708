//
// Appending JSON text straight from typed values, without building a DOM.
//
#ifndef STACKONE_DETAIL_JSON_WRITE_HPP
#define STACKONE_DETAIL_JSON_WRITE_HPP

#include <string>
#include <string_view>

namespace stackone::detail {

// Appends @p s as a JSON string literal (quotes included). Bytes >= 0x80 are copied as they are
// (the input is expected to be UTF-8); `"`, `\` and control characters are escaped the way
// Boost.JSON's serializer escapes them, which the unit tests check.
inline void append_json_string(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');

    // Copy runs of plain bytes in one go; most note text has no character to escape.
    std::size_t run_start = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
    {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(s.data() + run_start, i - run_start);
        run_start = i + 1;
        switch (c)
        {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        default:
            out.append("\\u00");
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
            break;
        }
    }
    out.append(s.data() + run_start, s.size() - run_start);
    out.push_back('"');
}

} // namespace stackone::detail

#endif
