//
// stackone-notes: the command line as typed, and its translation into library options.
//
// Parsing (CLI11) and checking happen here, before any client exists, so every usage error is
// reported before a request could be sent.
//
#ifndef STACKONE_TOOLS_CLI_OPTIONS_HPP
#define STACKONE_TOOLS_CLI_OPTIONS_HPP

#include <stackone/log.hpp>
#include <stackone/options.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace stackone::cli {

/// The program's name, as it prefixes every message on stderr.
inline constexpr std::string_view program_name = "stackone-notes";

/// A command line that cannot run: reported on stderr with exit status 2, nothing sent.
class usage_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/// Options of both subcommands, as typed. Empty strings and zeros mean "not given".
struct common_args
{
    std::string base_url = "https://api.stackone.com";
    std::string account_id;
    std::string api_key_file;
    std::string ca_file;
    std::string user_agent;
    std::string log_level = "warn";
    bool heartbeat = false;
    bool no_retry = false;
    bool at_most_once = false;
    bool no_shared_pause = false;
    bool insecure = false;
    double rate = -1; // requests per minute; -1 = not given (the default depends on the URL)
    int max_attempts = 0;
    std::size_t connections = 0;

    // Decimal seconds, checked by CLI11 validators at parse time.
    std::string heartbeat_gap;
    std::string timeout;
    std::string deadline;
    std::string max_retry_after;
};

/// Options of `create`.
struct create_args
{
    std::string candidate_id;
    std::string body;
    std::optional<std::string> author_id;
    std::optional<std::string> visibility;
};

/// Options of `import`.
struct import_args
{
    std::string input;
    std::optional<std::string> output;
    std::size_t concurrency = 16;
    bool overwrite = false;
    std::optional<std::string> journal; ///< not given: RESULTS.journal (none for stdout)
    bool resume = false;
    bool resend_unknown = false;
    std::string stop_grace = "5"; ///< decimal seconds, checked at parse time
};

/**
 * @brief Reads decimal seconds ("30", "0.5", ".25") as milliseconds, rounding up.
 *
 * No sign, exponent, "inf" or "nan": every accepted text has one exact meaning. Rounding up
 * keeps a small positive value from becoming 0, which means "off" for most options.
 * @returns std::nullopt for anything else, or for more than 10^9 seconds.
 */
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) noexcept;

/**
 * @brief Opens @p path for reading.
 * @throws usage_error naming @p what (a flag or argument) and the system's reason; also for a
 * directory, which would open and then fail on the first read.
 */
void open_for_reading(std::ifstream& in, std::string_view what, const std::string& path);

/// Adds the connection, retry and logging options shared by both subcommands to @p cmd.
void add_common_options(CLI::App& cmd, common_args& args);

/// Adds `create`'s own options to @p cmd.
void add_create_options(CLI::App& cmd, create_args& args);

/// Decimal seconds of a flag already checked by its validator (0 allowed).
std::chrono::milliseconds seconds_of(std::string_view flag, const std::string& text);

/// Adds `import`'s own options and its FILE argument to @p cmd.
void add_import_options(CLI::App& cmd, import_args& args);

/**
 * @brief Checks @p args and builds the client's options, the API key included.
 *
 * Reads the key from `--api-key-file` (first line, trailing whitespace trimmed) or else from
 * `STACKONE_API_KEY`. @p log becomes the client's logger; its level is taken from the args.
 *
 * @throws usage_error naming the option at fault. Its text never contains the API key.
 */
client_options make_client_options(const common_args& args, logger log);

/// Checks `create`'s arguments (the candidate id must be a usable path segment).
/// @throws usage_error naming the option at fault.
void check_create_args(const create_args& args);

} // namespace stackone::cli

#endif
