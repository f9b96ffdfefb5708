//
// A total, non-throwing parser of the Retry-After header (RFC 9110, section 10.2.3).
//
#ifndef STACKONE_RETRY_AFTER_HPP
#define STACKONE_RETRY_AFTER_HPP

#include <boost/system/errc.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace stackone {

namespace detail {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept
{
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// A tiny cursor over the header text; every reader returns false instead of throwing.
class date_cursor
{
public:
    explicit constexpr date_cursor(std::string_view s) noexcept : s_(s) {}

    constexpr bool done() const noexcept { return pos_ == s_.size(); }

    constexpr bool literal(std::string_view lit) noexcept
    {
        if (s_.substr(pos_, lit.size()) != lit)
            return false;
        pos_ += lit.size();
        return true;
    }

    // Exactly @p min_digits to @p max_digits decimal digits.
    constexpr bool number(int min_digits, int max_digits, int& out) noexcept
    {
        int digits = 0;
        out = 0;
        while (pos_ < s_.size() && digits < max_digits && s_[pos_] >= '0' && s_[pos_] <= '9')
        {
            out = out * 10 + (s_[pos_] - '0');
            ++pos_;
            ++digits;
        }
        return digits >= min_digits;
    }

    // One of @p names; its index goes to @p out.
    template <std::size_t N>
    constexpr bool one_of(const std::array<std::string_view, N>& names, int& out) noexcept
    {
        for (std::size_t i = 0; i < N; ++i)
        {
            if (s_.substr(pos_, names[i].size()) == names[i])
            {
                pos_ += names[i].size();
                out = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }

    // "HH:MM:SS"
    constexpr bool time_of_day(int& h, int& m, int& s) noexcept
    {
        return number(2, 2, h) && literal(":") && number(2, 2, m) && literal(":") &&
               number(2, 2, s);
    }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

inline constexpr std::array<std::string_view, 12> month_names{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
// Longest names first is unnecessary: long day names are tried as a separate list.
inline constexpr std::array<std::string_view, 7> short_day_names{
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
inline constexpr std::array<std::string_view, 7> long_day_names{
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

struct civil_time
{
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

constexpr bool valid_civil(const civil_time& t) noexcept
{
    constexpr std::array<int, 12> days_in_month{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= days_in_month[t.month - 1] &&
           t.hour <= 23 && t.minute <= 59 && t.second <= 60;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
constexpr bool parse_imf_fixdate(std::string_view s, civil_time& t) noexcept
{
    date_cursor c(s);
    int ignored = 0;
    return c.one_of(short_day_names, ignored) && c.literal(", ") && c.number(2, 2, t.day) &&
           c.literal(" ") && c.one_of(month_names, t.month) && c.literal(" ") &&
           c.number(4, 4, t.year) && c.literal(" ") && c.time_of_day(t.hour, t.minute, t.second) &&
           c.literal(" GMT") && c.done() && (++t.month, true);
}

// rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"; the century is chosen later.
constexpr bool parse_rfc850_date(std::string_view s, civil_time& t) noexcept
{
    date_cursor c(s);
    int ignored = 0;
    return c.one_of(long_day_names, ignored) && c.literal(", ") && c.number(2, 2, t.day) &&
           c.literal("-") && c.one_of(month_names, t.month) && c.literal("-") &&
           c.number(2, 2, t.year) && c.literal(" ") && c.time_of_day(t.hour, t.minute, t.second) &&
           c.literal(" GMT") && c.done() && (++t.month, true);
}

// asctime-date: "Sun Nov  6 08:49:37 1994" (the day is space-padded).
constexpr bool parse_asctime_date(std::string_view s, civil_time& t) noexcept
{
    date_cursor c(s);
    int ignored = 0;
    if (!(c.one_of(short_day_names, ignored) && c.literal(" ") && c.one_of(month_names, t.month) &&
          c.literal(" ")))
        return false;
    if (!(c.literal(" ") ? c.number(1, 1, t.day) : c.number(2, 2, t.day)))
        return false;
    return c.literal(" ") && c.time_of_day(t.hour, t.minute, t.second) && c.literal(" ") &&
           c.number(4, 4, t.year) && c.done() && (++t.month, true);
}

} // namespace detail

/// Longest delay accepted from a server (about 68 years); more is treated as garbage.
inline constexpr std::chrono::seconds max_retry_after_value{INT32_MAX};

/**
 * @brief Parses a `Retry-After` value into a delay from @p now.
 *
 * Accepts delta-seconds (`120`) and an HTTP-date in all three RFC 9110 forms (IMF-fixdate,
 * rfc850-date with its two-digit year, asctime). A date in the past gives zero. Surrounding
 * whitespace is ignored.
 *
 * @returns the delay, or `errc::invalid_argument` for an empty, negative, fractional,
 * overflowing or otherwise unreadable value (the caller then falls back to its backoff).
 */
inline boost::system::result<std::chrono::seconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) noexcept
{
    const auto invalid =
        boost::system::errc::make_error_code(boost::system::errc::invalid_argument);

    // Optional whitespace around a header value is not part of it.
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    if (value.empty())
        return invalid;

    // delta-seconds = 1*DIGIT
    if (value.front() >= '0' && value.front() <= '9')
    {
        std::int64_t seconds = 0;
        for (const char c : value)
        {
            if (c < '0' || c > '9')
                return invalid;
            seconds = seconds * 10 + (c - '0');
            if (seconds > max_retry_after_value.count())
                return invalid;
        }
        return std::chrono::seconds(seconds);
    }

    detail::civil_time t;
    bool two_digit_year = false;
    if (!detail::parse_imf_fixdate(value, t))
    {
        t = {};
        if (detail::parse_rfc850_date(value, t))
        {
            two_digit_year = true;
        }
        else
        {
            t = {};
            if (!detail::parse_asctime_date(value, t))
                return invalid;
        }
    }

    const auto now_s = std::chrono::time_point_cast<std::chrono::seconds>(now);
    if (two_digit_year)
    {
        // RFC 9110: a two-digit year that looks more than 50 years ahead is in the past.
        const std::int64_t now_days = now_s.time_since_epoch().count() / 86400;
        const int current_year = static_cast<int>(1970 + now_days / 365.2425);
        int year = current_year / 100 * 100 + t.year;
        if (year > current_year + 50)
            year -= 100;
        t.year = year;
    }
    if (!detail::valid_civil(t))
        return invalid;

    const std::int64_t when = detail::days_from_civil(t.year, t.month, t.day) * 86400 +
                              t.hour * 3600 + t.minute * 60 + t.second;
    const std::int64_t delta = when - now_s.time_since_epoch().count();
    if (delta <= 0)
        return std::chrono::seconds(0);
    if (delta > max_retry_after_value.count())
        return invalid;
    return std::chrono::seconds(delta);
}

} // namespace stackone

#endif
