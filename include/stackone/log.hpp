//
// A per-client logger value: a level and a sink. No globals.
//
#ifndef STACKONE_LOG_HPP
#define STACKONE_LOG_HPP

#include <functional>
#include <string_view>

namespace stackone {

/// Severity of a log record, most verbose first.
enum class log_level
{
    trace,
    debug,
    info,
    warn,
    error,
    off,
};

/**
 * @brief Where the client's log records go.
 *
 * Records below `level` are not formatted at all. The sink may be called from any thread that
 * runs the client's executor. Records never contain the API key or the Authorization header.
 */
struct logger
{
    /// The least severe level that is emitted (default: warnings and errors).
    log_level level = log_level::warn;

    /// Receives each record; empty = discard everything.
    std::function<void(log_level, std::string_view)> sink;

    /// True when a record of level @p l would reach the sink.
    bool enabled(log_level l) const noexcept { return sink && l >= level && l != log_level::off; }
};

/// A short lowercase name for @p l ("warn").
inline std::string_view to_string(log_level l) noexcept
{
    switch (l)
    {
    case log_level::trace:
        return "trace";
    case log_level::debug:
        return "debug";
    case log_level::info:
        return "info";
    case log_level::warn:
        return "warn";
    case log_level::error:
        return "error";
    case log_level::off:
        return "off";
    }
    return "?";
}

} // namespace stackone

#endif
