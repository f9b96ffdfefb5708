// Fuzzes parse_base_url: any text as client_options::base_url.
//
// Input: the URL text.
#include <stackone/detail/request.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using stackone::fuzz::check;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = stackone::detail::parse_base_url(text);
    if (!parsed)
    {
        check(parsed.error() == stackone::errc::invalid_base_url);
        return 0;
    }
    const stackone::detail::origin& o = *parsed;

    // What the request is built from is well formed.
    check(!o.host.empty() && o.port != 0);
    check(stackone::detail::is_valid_header_value(o.host_header));
    check(o.path_prefix.empty() || (o.path_prefix.front() == '/' && o.path_prefix.back() != '/'));
    check(text.find('@') == text.npos || o.path_prefix.find('@') != o.path_prefix.npos);
    check((o.port == (o.tls ? 443 : 80)) ==
          (o.host_header.find(':') == o.host_header.npos || o.host_header.back() == ']'));

    // Round trip: the URL rebuilt from what was kept parses to the same origin.
    const std::string rebuilt =
        std::string(o.tls ? "https://" : "http://") + o.host_header + o.path_prefix;
    const auto again = stackone::detail::parse_base_url(rebuilt);
    check(again.has_value());
    check(again->tls == o.tls && again->host == o.host && again->port == o.port);
    check(again->host_header == o.host_header && again->path_prefix == o.path_prefix);
    check(again->host_is_ip == o.host_is_ip);
    return 0;
}
