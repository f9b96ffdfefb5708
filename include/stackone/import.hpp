//
// Bulk import: JSONL notes in, JSONL results out, streaming with bounded concurrency.
//
#ifndef STACKONE_IMPORT_HPP
#define STACKONE_IMPORT_HPP

#include <stackone/client.hpp>
#include <stackone/config.hpp>
#include <stackone/note.hpp>
#include <stackone/options.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace stackone {

/// One input line of an import: which candidate, which account, and the note.
struct import_item
{
    std::size_t line = 0;     ///< 1-based line number in the input
    std::string candidate_id; ///< required, non-empty
    std::string account_id;   ///< empty = the import's default account
    boost::json::value key;   ///< the caller's own reference, echoed in the result (or null)
    note body;
};

/**
 * @brief Parses one JSONL line of import input.
 *
 * Accepts the note members of the spec plus `candidate_id` (required), `account_id` and `key`,
 * and the shorthands `"body": "text"` and `"visibility": "public"`. Never throws: a bad line
 * gives a decode_error whose text names the member at fault.
 */
STACKONE_DECL boost::system::result<import_item, decode_error>
parse_import_line(std::string_view line, std::size_t line_no) noexcept;

/// The fate of one input line.
enum class import_outcome
{
    created,  ///< the server answered with success
    failed,   ///< the server refused it, or it certainly did not reach the server
    rejected, ///< bad input: never sent
    unknown,  ///< may have been created (e.g. the connection dropped after the request)
};

/// "created", "failed", "rejected" or "unknown".
STACKONE_DECL std::string_view to_string(import_outcome o) noexcept;

/// One output line of an import.
struct import_record
{
    std::size_t line = 0;
    boost::json::value key;
    std::string candidate_id;
    import_outcome outcome = import_outcome::failed;
    int status = 0;               ///< HTTP status that decided, 0 when none
    field<std::string> id;        ///< created note's id
    field<std::string> remote_id; ///< created note's provider id
    int attempts = 0;
    bool possible_duplicate = false; ///< an earlier attempt may have created it too
    bool heartbeat_applied = false;  ///< the server answered `Preference-Applied: heartbeat`
    std::size_t heartbeat_bytes = 0; ///< heartbeat bytes received before the JSON
    std::string error;               ///< error code message and server message, when not created
};

/// The record of a call's completion.
STACKONE_DECL import_record make_import_record(const import_item& item,
                                               const error_code& ec,
                                               const create_result& res);

/// The record of a line that could not be parsed.
STACKONE_DECL import_record make_rejected_record(std::size_t line, std::string why);

/// The record as one JSON line, newline included.
STACKONE_DECL std::string to_json_line(const import_record& r);

/// Counters of an import, as reported to progress callbacks and at the end.
struct import_summary
{
    std::size_t lines = 0; ///< input lines read so far
    std::size_t done = 0;  ///< lines dealt with (a result written, or blank)
    std::size_t created = 0;
    std::size_t failed = 0;
    std::size_t rejected = 0;
    std::size_t unknown = 0;
    std::size_t blank = 0;   ///< blank lines: skipped, no result line
    std::size_t retries = 0; ///< attempts beyond the first, summed
    std::size_t in_flight = 0;
    std::chrono::steady_clock::duration elapsed{};
    bool finished = false; ///< the input was read to its end and every call completed

    /// True when every line was created.
    bool all_created() const noexcept { return finished && created + blank == lines; }
};

/// How an import runs.
struct import_options
{
    /// Calls in flight at most. Range 1..10000.
    std::size_t concurrency = 16;

    /// Options of each call; `account_id` is the default for lines that do not name one.
    call_options call;

    /// Longest accepted input line in bytes; longer lines are rejected (and skipped whole).
    std::size_t max_line_bytes = 1024 * 1024;

    /// Called every `progress_interval` and once at the end, on the import's executor.
    std::function<void(const import_summary&)> on_progress;
    std::chrono::milliseconds progress_interval = std::chrono::seconds(1);
};

/**
 * @brief Imports every line of @p in, writing one result line per input line to @p out.
 *
 * Streams: at most `concurrency` lines are held at once, whatever the input size. Results are
 * written in completion order and flushed as they come. A malformed line gets a `rejected`
 * result naming its line number, and the import goes on. Blank lines are skipped without a
 * result.
 *
 * @par Thread safety
 * Run it on a single-threaded executor (an io_context run by one thread) or a strand: the
 * workers share the input, the output and the counters without locks. Reading @p in blocks.
 *
 * @par Per-operation cancellation
 * Terminal cancellation of the awaiting coroutine stops reading input and cancels the calls in
 * flight; their lines get `unknown` or `failed` results, and `finished` is false.
 */
STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, std::istream& in, std::ostream& out, import_options opts);

} // namespace stackone

#ifdef STACKONE_HEADER_ONLY
#include <stackone/impl/import.ipp>
#endif

#endif
