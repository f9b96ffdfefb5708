//
// stackone-notes: everything written to stderr (log records, warnings, the progress line and
// the import summary), kept from garbling each other.
//
#ifndef STACKONE_TOOLS_CLI_CONSOLE_HPP
#define STACKONE_TOOLS_CLI_CONSOLE_HPP

#include <stackone/import.hpp>
#include <stackone/log.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace stackone::cli {

/**
 * @brief The program's stderr.
 *
 * On a terminal a status line can be redrawn in place; a full line written meanwhile erases it
 * first, and the next status redraws it below. Elsewhere a status is written as a plain line.
 * Each write is one `fwrite`, so lines from the log sink never interleave mid-line.
 *
 * @par Thread safety
 * Safe: the client's log sink may call it from any thread running the client.
 */
class console
{
public:
    /// @param status_in_place redraw status lines with `\r` (stderr is a terminal).
    explicit console(bool status_in_place) : in_place_(status_in_place) {}

    /// True when status lines are redrawn in place.
    bool status_in_place() const noexcept { return in_place_; }

    /// Writes @p text as one line, prefixed with "stackone-notes: ".
    void message(std::string_view text);

    /// Writes @p text as one line, as is.
    void line(std::string_view text);

    /// Shows @p text as the status line.
    void status(std::string_view text);

    /// Leaves the status line, if one is shown, and moves below it.
    void end_status();

private:
    void erase_status_locked();

    std::mutex mutex_;
    bool in_place_;
    std::size_t status_width_ = 0; // columns of the status line shown now, 0 = none
};

/// A logger whose records go to @p out as "stackone-notes: <level>: <text>".
logger make_logger(console& out);

/// "42s", "3m05s", "2h07m": short enough for a status line.
std::string format_eta(std::chrono::seconds d);

/// "0.42s", "12.3s", then as format_eta.
std::string format_elapsed(std::chrono::steady_clock::duration d);

/// Notes per second so far.
double rate_of(const import_summary& s) noexcept;

/**
 * @brief The progress line of an import.
 *
 * "1234/10000 12% | 85.3 notes/s | ETA 1m43s | retries 5 | failures 3"; without a known
 * @p total: "1234 done | ...". Failures count failed, rejected and unknown lines.
 */
std::string format_progress(const import_summary& s, std::optional<std::size_t> total);

/**
 * @brief The summary printed at the end of an import, several lines, the last without '\n'.
 * @param results where the results went ("(stdout)" or a path).
 * @param interrupted the import was stopped by a signal.
 */
std::string format_summary(const import_summary& s, std::string_view results, bool interrupted);

/**
 * @brief Two more summary rows from the client's counters: connections and TLS handshakes, and
 * the waits that spared the server (another call's 429 pause, the pacer, the retry budget).
 */
std::string format_client_stats(const pool_stats& p);

/**
 * @brief Reports an import's progress on a console.
 *
 * In place: redraws on every report. Otherwise: a plain line at most every @p plain_every, so
 * a log file gets a sign of life without a flood.
 */
class progress_reporter
{
public:
    progress_reporter(console& out,
                      std::optional<std::size_t> total,
                      std::chrono::steady_clock::duration plain_every);

    /// Takes one report (the import's on_progress callback).
    void report(const import_summary& s);

    /// Ends the status line before the summary.
    void finish();

private:
    console& out_;
    std::optional<std::size_t> total_;
    std::chrono::steady_clock::duration plain_every_;
    std::optional<std::chrono::steady_clock::duration> last_plain_;
};

} // namespace stackone::cli

#endif
