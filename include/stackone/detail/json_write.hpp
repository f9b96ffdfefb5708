//
// Appending JSON text straight from typed values, without building a DOM.
//
#ifndef STACKONE_DETAIL_JSON_WRITE_HPP
#define STACKONE_DETAIL_JSON_WRITE_HPP

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace stackone::detail {

// The bytes a JSON string literal cannot hold as they are: control characters, `"` and `\`.
inline constexpr auto needs_escape = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 0x20; ++c)
        table[c] = true;
    table['"'] = true;
    table['\\'] = true;
    return table;
}();

// True when one of the 8 bytes at @p p needs escaping (the classic SWAR tests for a zero
// byte and for a byte below a bound; false positives cannot occur for these constants).
inline bool any_byte_needs_escape(const char* p) noexcept
{
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t highs = 0x8080808080808080u;
    const auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    return (below_space | has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\'))) != 0;
}

// Appends @p s as a JSON string literal (quotes included). Bytes >= 0x80 are copied as they are
// (the input is expected to be UTF-8); `"`, `\` and control characters are escaped the way
// Boost.JSON's serializer escapes them, which the unit tests check.
inline void append_json_string(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');

    // Copy runs of plain bytes in one go; most note text has no character to escape. Eight
    // bytes at a time are skipped while none of them is below 0x20, `"` or `\`.
    std::size_t run_start = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
    {
        while (i + 8 <= s.size() && !any_byte_needs_escape(s.data() + i))
            i += 8;
        if (i == s.size())
            break;
        const auto c = static_cast<unsigned char>(s[i]);
        if (!needs_escape[c])
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
