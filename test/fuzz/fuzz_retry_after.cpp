// Fuzzes parse_retry_after: any header value, any clock between 1970 and 2262.
//
// Input: 5 bytes of "now" (seconds since 1970, little-endian, reduced to what system_clock holds),
// then the header value.
#include <stackone/retry_after.hpp>

#include "check.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

// The latest second system_clock can hold (its nanoseconds end in 2262).
const std::int64_t latest_now =
    std::chrono::duration_cast<seconds>(system_clock::time_point::max().time_since_epoch())
        .count() -
    1;

using stackone::fuzz::check;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 5)
        return 0;
    std::int64_t now_s = 0;
    for (int i = 4; i >= 0; --i)
        now_s = now_s * 256 + data[i];
    now_s %= latest_now + 1;
    const std::string_view value(reinterpret_cast<const char*>(data + 5), size - 5);
    const system_clock::time_point now{seconds(now_s)};

    // Never negative, never over the documented maximum, never an exception.
    const auto delay = stackone::parse_retry_after(value, now);
    if (delay)
        check(delay->count() >= 0 && *delay <= stackone::max_retry_after_value);

    // Optional whitespace around the value is not part of it.
    const std::string padded = " \t" + std::string(value) + "\t ";
    const auto again = stackone::parse_retry_after(padded, now);
    check(again.has_value() == delay.has_value());
    if (delay)
        check(*again == *delay);

    // Delta-seconds do not depend on the clock; a date is a fixed instant, so a second later
    // its delay is a second shorter, or still zero. (An rfc850-date, the only form with '-',
    // is left out: its two-digit year may change century between the two clocks.)
    if (delay && now_s < latest_now && value.find('-') == value.npos)
    {
        const auto later = stackone::parse_retry_after(value, now + seconds(1));
        const auto first = value.find_first_not_of(" \t");
        const bool is_delta = value[first] >= '0' && value[first] <= '9';
        check(later.has_value());
        if (is_delta)
            check(*later == *delay);
        else
            check(*later == (*delay > seconds(0) ? *delay - seconds(1) : seconds(0)));
    }
    return 0;
}
