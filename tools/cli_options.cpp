//
// stackone-notes: option definitions and checks. See cli_options.hpp.
//
#include "cli_options.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>
#include <utility>

namespace stackone::cli {

namespace {

constexpr std::string_view connection_group = "Connection";
constexpr std::string_view retry_group = "Retries and time limits";
constexpr std::string_view output_group = "Diagnostics";

// Longest accepted duration; more would overflow nothing, but is surely a typo.
constexpr std::int64_t max_seconds = 1'000'000'000;

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

// CLI11 validator for decimal seconds. Its message follows the flag name, as
// "--timeout: must be more than 0 seconds".
CLI::Validator seconds_validator(bool allow_zero)
{
    auto check = [allow_zero](std::string& text) -> std::string {
        if (!text.empty() && text.front() == '-')
        {
            return "must not be negative, got '" + text + "'";
        }
        auto value = parse_seconds(text);
        if (!value)
        {
            // Only digits and a point, yet refused: the number is too large.
            if (!text.empty() && text.find_first_not_of("0123456789.") == std::string::npos &&
                text.find_first_of("0123456789") != std::string::npos &&
                std::count(text.begin(), text.end(), '.') <= 1)
            {
                return "at most " + std::to_string(max_seconds) + " seconds, got '" + text + "'";
            }
            return "expected decimal seconds such as 30 or 0.5, got '" + text + "'";
        }
        if (!allow_zero && value->count() == 0)
        {
            return "must be more than 0 seconds";
        }
        return {};
    };
    return CLI::Validator(check, "", "seconds");
}

// CLI11 validator for a whole number from @p low to @p high, in decimal. CLI11's own Range says
// "not in range" for text that is no number at all, and CLI11 converts "010" as octal, so a
// leading zero is refused.
CLI::Validator count_validator(long long low, long long high)
{
    const std::string bounds = std::to_string(low) + " to " + std::to_string(high);
    auto check = [low, high, bounds](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
            (text.size() > 1 && text.front() == '0'))
        {
            return "expected a whole number from " + bounds + ", got '" + text + "'";
        }
        // More digits than any long long has are out of range too.
        long long value = 0;
        const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
        const bool in_range = parsed.ec == std::errc() && value >= low && value <= high;
        return in_range ? std::string() : "must be from " + bounds + ", got " + text;
    };
    return CLI::Validator(
        check, "in [" + std::to_string(low) + " - " + std::to_string(high) + "]", "count");
}

// CLI11 validator for --rate: a plain decimal number of requests per minute. CLI11's own Range
// would print its bounds as 0.000000 and accept "inf"-like spellings of strtod.
CLI::Validator rate_validator()
{
    auto check = [](std::string& text) -> std::string {
        const bool plain = !text.empty() &&
                           text.find_first_not_of("0123456789.") == std::string::npos &&
                           text.find_first_of("0123456789") != std::string::npos &&
                           std::count(text.begin(), text.end(), '.') <= 1;
        if (!plain || std::strtod(text.c_str(), nullptr) > 1e7)
        {
            return "expected requests per minute from 0 to 10000000, got '" + text + "'";
        }
        return {};
    };
    return CLI::Validator(check, "", "rate");
}

// Header values travel on one line; CR, LF, NUL and other controls would be refused by the
// library after the client exists, so refuse them here with the option's name.
bool has_control_char(std::string_view text) noexcept
{
    return std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
}

bool starts_with_no_case(std::string_view text, std::string_view prefix) noexcept
{
    if (text.size() < prefix.size())
    {
        return false;
    }
    return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
    });
}

std::string_view trim_trailing_space(std::string_view text) noexcept
{
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    {
        text.remove_suffix(1);
    }
    return text;
}

// True when @p url's host is StackOne's API host, in any case (not a host that only begins
// with that name).
bool is_stackone_api(const std::string& url)
{
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed)
    {
        return false;
    }
    std::string host = parsed->encoded_host().decode();
    std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return host == "api.stackone.com";
}

void check_base_url(const std::string& url)
{
    // The scheme decides TCP or TLS; anything else (a bare host, ftp://) is a typo. The URL
    // itself is not echoed: people paste credentials into URLs.
    for (std::string_view scheme : {"http://", "https://"})
    {
        if (!starts_with_no_case(url, scheme) || url.size() == scheme.size())
        {
            continue;
        }
        // "user:password@host": the library refuses it too; this message also says where the
        // key belongs.
        const auto authority = std::string_view(url).substr(scheme.size());
        if (authority.substr(0, authority.find_first_of("/?#")).find('@') != std::string_view::npos)
        {
            throw usage_error("--base-url (or STACKONE_BASE_URL): must not contain user info "
                              "(user:password@); the API key comes from STACKONE_API_KEY or "
                              "--api-key-file");
        }
        return;
    }
    throw usage_error("--base-url (or STACKONE_BASE_URL): expected an http:// or https:// URL "
                      "such as https://api.stackone.com");
}

// The key comes from a file or the environment, never from the command line, where `ps` and
// the shell history would show it. No message here may quote the key.
std::string read_api_key(const std::string& key_file)
{
    if (!key_file.empty())
    {
        std::ifstream in;
        open_for_reading(in, "--api-key-file", key_file);
        std::string first_line;
        std::getline(in, first_line);
        auto key = std::string(trim_trailing_space(first_line));
        if (key.empty())
        {
            throw usage_error("--api-key-file: the first line of '" + key_file + "' is empty");
        }
        if (has_control_char(key))
        {
            throw usage_error("--api-key-file: the key in '" + key_file +
                              "' contains control characters");
        }
        return key;
    }

    if (const char* env = std::getenv("STACKONE_API_KEY"); env && *env)
    {
        auto key = std::string(trim_trailing_space(env));
        if (has_control_char(key))
        {
            throw usage_error("STACKONE_API_KEY contains control characters");
        }
        if (!key.empty())
        {
            return key;
        }
    }
    throw usage_error("no API key: set STACKONE_API_KEY or pass --api-key-file FILE "
                      "(there is no --api-key option, so the key stays out of `ps` and shell "
                      "history)");
}

void check_ca_file(const std::string& path)
{
    // Checked here so a typo is a usage error, not a TLS failure on the first call. Over
    // http:// the file is never loaded, so a file that holds no PEM certificate at all is
    // refused here too, whatever the URL.
    std::ifstream in;
    open_for_reading(in, "--ca-file", path);
    std::string line;
    while (std::getline(in, line))
    {
        if (line.starts_with("-----BEGIN CERTIFICATE-----") ||
            line.starts_with("-----BEGIN TRUSTED CERTIFICATE-----"))
        {
            return;
        }
    }
    throw usage_error("--ca-file: '" + path +
                      "' holds no PEM certificate (-----BEGIN "
                      "CERTIFICATE-----)");
}

log_level log_level_of(const std::string& name)
{
    static const std::map<std::string, log_level, std::less<>> levels{
        {"trace", log_level::trace},
        {"debug", log_level::debug},
        {"info", log_level::info},
        {"warn", log_level::warn},
        {"error", log_level::error},
        {"off", log_level::off},
    };
    auto it = levels.find(name);
    if (it == levels.end())
    {
        throw usage_error("--log-level: expected trace, debug, info, warn, error or off");
    }
    return it->second;
}

} // namespace

std::chrono::milliseconds seconds_of(std::string_view flag, const std::string& text)
{
    // The validators already accepted the text; this guards against a validator not run.
    auto value = parse_seconds(text);
    if (!value)
    {
        throw usage_error(std::string(flag) + ": expected decimal seconds, got '" + text + "'");
    }
    return *value;
}

std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) noexcept
{
    std::size_t i = 0;

    // Whole seconds.
    std::int64_t whole = 0;
    std::size_t whole_digits = 0;
    for (; i < text.size() && is_digit(text[i]); ++i, ++whole_digits)
    {
        whole = whole * 10 + (text[i] - '0');
        if (whole > max_seconds)
        {
            return std::nullopt;
        }
    }

    // Milliseconds from the first three decimals; any further non-zero digit rounds up.
    std::int64_t millis = 0;
    std::size_t fraction_digits = 0;
    bool remainder = false;
    if (i < text.size() && text[i] == '.')
    {
        ++i;
        for (; i < text.size() && is_digit(text[i]); ++i, ++fraction_digits)
        {
            if (fraction_digits < 3)
            {
                millis = millis * 10 + (text[i] - '0');
            }
            else if (text[i] != '0')
            {
                remainder = true;
            }
        }
    }
    for (std::size_t d = fraction_digits; d < 3; ++d)
    {
        millis *= 10;
    }

    if (i != text.size() || whole_digits + fraction_digits == 0)
    {
        return std::nullopt;
    }
    return std::chrono::milliseconds(whole * 1000 + millis + (remainder ? 1 : 0));
}

void open_for_reading(std::ifstream& in, std::string_view flag, const std::string& path)
{
    // A directory opens fine on Linux and fails only on the first read: refuse it up front.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
    {
        throw usage_error(std::string(flag) + ": '" + path + "' is a directory");
    }
    errno = 0;
    in.open(path);
    if (!in)
    {
        auto reason = errno != 0 ? std::strerror(errno) : "cannot open";
        throw usage_error(std::string(flag) + ": cannot read '" + path + "': " + reason);
    }
}

void add_common_options(CLI::App& cmd, common_args& args)
{
    cmd.add_option("--base-url", args.base_url, "API base URL, http:// or https://")
        ->envname("STACKONE_BASE_URL")
        ->type_name("URL")
        ->capture_default_str()
        ->group(std::string(connection_group));
    cmd.add_option("--account-id", args.account_id, "Linked account id (x-account-id); required")
        ->envname("STACKONE_ACCOUNT_ID")
        ->type_name("ID")
        ->group(std::string(connection_group));
    cmd.add_option("--api-key-file",
                   args.api_key_file,
                   "API key from the first line of FILE (else STACKONE_API_KEY)")
        ->type_name("FILE")
        ->group(std::string(connection_group));
    cmd.add_option("--ca-file", args.ca_file, "PEM file of extra trusted CA certificates")
        ->type_name("FILE")
        ->group(std::string(connection_group));
    cmd.add_flag("--insecure",
                 args.insecure,
                 "No TLS certificate checks: local experiments ONLY (prints a warning)")
        ->group(std::string(connection_group));
    cmd.add_option("--connections", args.connections, "Most connections open at once [16]")
        ->check(count_validator(1, 10000))
        ->type_name("N")
        ->group(std::string(connection_group));
    cmd.add_option("--user-agent", args.user_agent, "User-Agent header [stackone-notes-cpp/VER]")
        ->type_name("TEXT")
        ->group(std::string(connection_group));
    cmd.add_flag("--heartbeat",
                 args.heartbeat,
                 "Send 'Prefer: heartbeat' so slow calls keep the connection alive")
        ->group(std::string(connection_group));

    cmd.add_option("--heartbeat-gap",
                   args.heartbeat_gap,
                   "Longest silence while waiting for a response; 0 = off [30]")
        ->check(seconds_validator(true))
        ->type_name("SECONDS")
        ->group(std::string(retry_group));
    cmd.add_option("--timeout", args.timeout, "Time limit of one attempt, > 0 [90]")
        ->check(seconds_validator(false))
        ->type_name("SECONDS")
        ->group(std::string(retry_group));
    cmd.add_option(
           "--deadline", args.deadline, "Time limit of one call, retries included; 0 = none [0]")
        ->check(seconds_validator(true))
        ->type_name("SECONDS")
        ->group(std::string(retry_group));
    auto* max_attempts =
        cmd.add_option("--max-attempts", args.max_attempts, "Attempts per call, 1..100 [3]")
            ->check(count_validator(1, 100))
            ->type_name("N")
            ->group(std::string(retry_group));
    cmd.add_flag("--no-retry", args.no_retry, "One attempt per call (--max-attempts 1)")
        ->excludes(max_attempts)
        ->group(std::string(retry_group));
    cmd.add_flag("--at-most-once",
                 args.at_most_once,
                 "Never replay a 408: the note may exist, the line becomes unknown")
        ->group(std::string(retry_group));
    cmd.add_flag("--no-shared-pause",
                 args.no_shared_pause,
                 "A 429 delays only its own call, not new calls for the same account")
        ->group(std::string(retry_group));
    cmd.add_option("--rate",
                   args.rate,
                   "Requests per minute at most; 0 = no pacing [1000 for api.stackone.com, "
                   "else 0]")
        ->check(rate_validator())
        ->type_name("N")
        ->group(std::string(retry_group));
    cmd.add_option("--max-retry-after",
                   args.max_retry_after,
                   "Fail, not wait, when Retry-After asks for longer; 0 = no cap [120]")
        ->check(seconds_validator(true))
        ->type_name("SECONDS")
        ->group(std::string(retry_group));

    cmd.add_option("--log-level", args.log_level, "Log records on stderr from this level on")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->capture_default_str()
        ->type_name("LEVEL")
        ->group(std::string(output_group));
}

void add_create_options(CLI::App& cmd, create_args& args)
{
    cmd.add_option("--candidate-id", args.candidate_id, "Candidate to add the note to")
        ->required()
        ->type_name("ID");
    cmd.add_option("--body", args.body, "The note's text")->required()->type_name("TEXT");
    cmd.add_option("--author-id", args.author_id, "Author of the note")->type_name("ID");
    cmd.add_option(
           "--visibility", args.visibility, "public, private, unmapped_value or another value")
        ->type_name("VALUE");
}

void add_import_options(CLI::App& cmd, import_args& args)
{
    cmd.add_option("FILE", args.input, "JSONL input, one note a line; - reads stdin")
        ->required()
        ->type_name("");
    cmd.add_option("--output",
                   args.output,
                   "Results file, - = stdout [FILE.results.jsonl; stdout for stdin]")
        ->type_name("RESULTS");
    cmd.add_flag("--overwrite", args.overwrite, "Replace existing results and journal");
    cmd.add_option("--concurrency", args.concurrency, "Calls in flight at most, 1..10000")
        ->check(count_validator(1, 10000))
        ->capture_default_str()
        ->type_name("N");
    cmd.add_option("--journal", args.journal, "Crash-safe record of the import [RESULTS.journal]")
        ->type_name("FILE");
    auto* resume = cmd.add_flag(
        "--resume", args.resume, "Continue an interrupted import from its journal (see below)");
    cmd.add_flag("--resend-unknown",
                 args.resend_unknown,
                 "Resend the lines in flight at the interruption (possible duplicates)")
        ->needs(resume);
    cmd.add_option("--stop-grace",
                   args.stop_grace,
                   "On SIGINT/SIGTERM: time calls in flight may still finish")
        ->check(seconds_validator(true))
        ->capture_default_str()
        ->type_name("SECONDS");
}

client_options make_client_options(const common_args& args, logger log)
{
    client_options opts;
    // The CLI runs one io_context on one thread: the client needs no strand.
    opts.thread_safe = false;

    // Where and as whom.
    check_base_url(args.base_url);
    opts.base_url = args.base_url;
    if (args.account_id.empty())
    {
        throw usage_error("--account-id is required (or set STACKONE_ACCOUNT_ID)");
    }
    if (has_control_char(args.account_id))
    {
        throw usage_error("--account-id: contains control characters");
    }
    opts.account_id = args.account_id;
    if (has_control_char(args.user_agent))
    {
        throw usage_error("--user-agent: contains control characters");
    }
    opts.user_agent = args.user_agent;
    opts.api_key = read_api_key(args.api_key_file);

    // TLS.
    if (!args.ca_file.empty())
    {
        check_ca_file(args.ca_file);
        opts.tls.ca_file = args.ca_file;
    }
    opts.tls.insecure_skip_verify = args.insecure;

    // Pool, heartbeats and time limits; options not given keep the library's defaults.
    if (args.connections != 0)
    {
        opts.pool.max_connections = args.connections;
    }
    opts.heartbeat = args.heartbeat;
    if (!args.heartbeat_gap.empty())
    {
        opts.heartbeat_gap = seconds_of("--heartbeat-gap", args.heartbeat_gap);
    }
    if (!args.deadline.empty())
    {
        opts.deadline = seconds_of("--deadline", args.deadline);
    }
    if (!args.timeout.empty())
    {
        opts.retry.attempt_timeout = seconds_of("--timeout", args.timeout);
    }
    if (!args.max_retry_after.empty())
    {
        // The library keeps this in whole seconds; round up so a cap is never tightened.
        opts.retry.max_retry_after = std::chrono::ceil<std::chrono::seconds>(
            seconds_of("--max-retry-after", args.max_retry_after));
    }
    opts.retry.replay_408 = !args.at_most_once;
    opts.pause_account_on_429 = !args.no_shared_pause;

    // StackOne documents 1000 requests per minute per key: pace to it against the real API,
    // not against a local server, unless told otherwise.
    if (args.rate >= 0)
    {
        opts.requests_per_minute = args.rate;
    }
    else if (is_stackone_api(args.base_url))
    {
        opts.requests_per_minute = 1000;
    }

    if (args.no_retry)
    {
        opts.retry.max_attempts = 1;
    }
    else if (args.max_attempts != 0)
    {
        opts.retry.max_attempts = args.max_attempts;
    }

    log.level = log_level_of(args.log_level);
    opts.log = std::move(log);
    return opts;
}

void check_create_args(const create_args& args)
{
    // The id is one path segment; these would address another resource, so the library refuses
    // them too, but only after a client exists.
    const auto& id = args.candidate_id;
    if (id.empty() || id == "." || id == "..")
    {
        throw usage_error("--candidate-id: must not be empty, '.' or '..'");
    }
    if (args.author_id && args.author_id->empty())
    {
        throw usage_error("--author-id: must not be empty (leave it out instead)");
    }
    if (args.visibility && args.visibility->empty())
    {
        throw usage_error("--visibility: must not be empty (leave it out instead)");
    }
}

} // namespace stackone::cli
