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
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace stackone {

/// One input line of an import: which candidate, which account, and the note.
struct import_item
{
    std::size_t line = 0;     ///< 1-based line number in the input
    std::string candidate_id; ///< required, non-empty
    std::string account_id;   ///< empty = the import's default account
    boost::json::value key;   ///< the caller's own reference, echoed in the result (or null)
    /// A numeric `key`'s text as the line has it (`0.10`, `1E2`, thirty digits), echoed as it is;
    /// empty for other keys. `key` holds its correctly rounded value.
    std::string key_text;
    note body;
};

/**
 * @brief Parses one JSONL line of import input.
 *
 * Accepts the note members of the spec plus `candidate_id` (required), `account_id` and `key`,
 * and the shorthands `"body": "text"` and `"visibility": "public"`. Never throws: a bad line
 * gives a decode_error whose text names the member at fault.
 *
 * Doubles are correctly rounded (parse_json), in `passthrough` and `source_value` too; a
 * numeric `key` also keeps its text, so that the result echoes it exactly as written.
 */
STACKONE_DECL boost::system::result<import_item, decode_error>
parse_import_line(std::string_view line, std::size_t line_no) noexcept;

/// The fate of one input line.
enum class import_outcome
{
    created,  ///< the server answered with success
    failed,   ///< the server refused it (a 4xx but 408, or a 501), or it never reached it
    rejected, ///< bad input: never sent
    unknown,  ///< may have been created (a 408 or 5xx, a connection lost after the request)
};

/// "created", "failed", "rejected" or "unknown".
STACKONE_DECL std::string_view to_string(import_outcome o) noexcept;

/// One output line of an import.
struct import_record
{
    std::size_t line = 0;
    boost::json::value key;
    /// When not empty, written as the key instead of `key`: a JSON number's text, as
    /// import_item::key_text.
    std::string key_text;
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
    std::size_t lines = 0; ///< input lines taken so far (read and handed to a worker)
    std::size_t done = 0;  ///< lines dealt with (a result, or blank), written or not
    std::size_t created = 0;
    std::size_t failed = 0;
    std::size_t rejected = 0;
    std::size_t unknown = 0;
    std::size_t blank = 0;   ///< blank lines: skipped, no result line
    std::size_t retries = 0; ///< attempts beyond the first, summed (this run only)
    /// Results an earlier, interrupted run wrote (resume only). They are counted in `done` and
    /// in the outcome counters from the start; their lines are skipped, not sent.
    std::size_t skipped = 0;
    /// Lines that were in flight when an earlier run died and were sent again
    /// (`import_options::resend_unknown`); their results say `possible_duplicate`.
    std::size_t resent = 0;
    std::size_t in_flight = 0;
    std::chrono::steady_clock::duration elapsed{};
    bool finished = false; ///< the input was read to its end and every call completed
    /// Why the import stopped early on its own (a journal or results write failed, the input
    /// could not be read); empty otherwise.
    std::string error;

    /// True when every line was created.
    bool all_created() const noexcept { return finished && created + blank == lines; }
};

/// Why a journal (or the results file beside it) cannot be used.
struct import_journal_error
{
    std::string what;
};

/**
 * @brief The crash-safe record of an import: which lines were sent, and what came of them.
 *
 * An append-only text file. The first line names the format and the input
 * (`{"stackone_import_journal":1,"input":"ID"}`); then one record per event, each written with
 * a single `write(2)` before the import goes on:
 *
 * - `S <line>` before the request of input line `<line>` is sent;
 * - `R <line> <outcome> <result JSON>` once the line has its result (also for `rejected`
 *   lines, which are never sent), before the result goes to the results stream.
 *
 * A line with an `R` record is done. A line with an `S` record and no `R` record was in flight
 * when the process died: the note may or may not exist. Because every `R` record is written
 * before its result line, the results file is always a prefix of the journal's `R` records
 * (in the same order), possibly with a torn last line; sync_results_file() repairs it.
 *
 * Durability: records are not fsync'ed. They survive the process being killed (`kill -9`, a
 * crash, an OOM kill: the kernel keeps what was written), not a power loss or a kernel crash.
 *
 * Memory: open() keeps one bit per input line (done or not) and the set of lines that were in
 * flight (at most the concurrency of the run that died), never the results themselves.
 *
 * @par Thread safety
 * None: use it from the import's executor only.
 */
class import_journal
{
public:
    /**
     * @brief Starts a new, empty journal for the input identified by @p input_id.
     *
     * @p input_id should change whenever the input does (the CLI uses the SHA-256 of the input
     * file); resuming checks it. An existing file is an error unless @p replace.
     */
    STACKONE_DECL static boost::system::result<import_journal, import_journal_error>
    create(const std::string& path, std::string_view input_id, bool replace = false);

    /**
     * @brief Opens an existing journal to resume the import it records.
     *
     * Reads every record: builds the set of done lines, the lines in flight and the outcome
     * counts. A torn last record (the process died while writing it) is dropped and cut off
     * the file; any other malformed record is an error, as is a missing file or a journal of
     * another input (@p input_id differs from the one it was created with).
     */
    STACKONE_DECL static boost::system::result<import_journal, import_journal_error>
    open(const std::string& path, std::string_view input_id);

    STACKONE_DECL import_journal(import_journal&& other) noexcept;
    STACKONE_DECL import_journal& operator=(import_journal&& other) noexcept;
    import_journal(const import_journal&) = delete;
    import_journal& operator=(const import_journal&) = delete;
    STACKONE_DECL ~import_journal();

    /// The file's path.
    const std::string& path() const noexcept { return path_; }

    /// True when @p line has a result record.
    bool is_done(std::size_t line) const noexcept { return line < done_.size() && done_[line]; }

    /// Lines started without a result when the journal was opened (in flight at the crash).
    const std::set<std::size_t>& in_flight() const noexcept { return in_flight_; }

    /// Result records in the journal (those read by open() and those written since).
    std::size_t results() const noexcept { return results_; }

    /// Outcome counts of the result records, as open() read them (`done` = their number).
    const import_summary& recorded() const noexcept { return recorded_; }

    /// Appends `S line`. On failure (disk full, say) the line must not be sent.
    STACKONE_DECL boost::system::result<void, import_journal_error>
    record_started(std::size_t line);

    /// Appends `R line outcome json`; @p json_line is to_json_line() of @p r.
    STACKONE_DECL boost::system::result<void, import_journal_error>
    record_result(const import_record& r, std::string_view json_line);

    /**
     * @brief Writes the result JSON of every result record after the first @p skip to @p out.
     *
     * Streams the file; the results are not kept in memory. Used to re-derive what a results
     * file lacks after a crash.
     */
    STACKONE_DECL boost::system::result<std::size_t, import_journal_error>
    copy_results(std::ostream& out, std::size_t skip) const;

private:
    import_journal() = default;
    boost::system::result<void, import_journal_error> append(std::string_view record);
    void mark_done(std::size_t line);

    std::string path_;
    int fd_ = -1;
    std::vector<bool> done_;
    std::set<std::size_t> in_flight_;
    std::size_t results_ = 0;
    import_summary recorded_;
};

/**
 * @brief Makes the results file at @p path agree with @p journal before a resume.
 *
 * Cuts a torn last line (a partial write of the run that died), then appends the results the
 * journal holds but the file lacks (the run died between the two writes). A missing file is
 * created from the journal. Afterwards the file has exactly journal.results() lines, so the
 * resumed import can append to it.
 *
 * @returns the number of lines appended; an error when the file has more complete lines than
 * the journal has results (it belongs to another run), or on I/O errors.
 */
STACKONE_DECL boost::system::result<std::size_t, import_journal_error>
sync_results_file(const import_journal& journal, const std::string& path);

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

    /**
     * The journal to write (not owned; it must outlive the import), or null for none.
     *
     * With a journal, each line is recorded before it is sent and its result before the result
     * is written to the output. A journal returned by import_journal::open() also resumes:
     * lines it has a result for are skipped (no call, no new result line), and lines that were
     * in flight get an `unknown` result ("in flight when an earlier run stopped") without
     * being sent, unless `resend_unknown`. The summary then counts the earlier results too
     * (`skipped`). When a journal write fails the import stops taking lines, as if cancelled,
     * and `import_summary::error` says why; a result the journal refused is not written to the
     * output either (its line stays in flight, and a resume marks it `unknown`).
     */
    import_journal* journal = nullptr;

    /// On resume: send the lines that were in flight again instead of marking them `unknown`.
    /// Their results carry `possible_duplicate: true` (and a failure becomes `unknown`): the
    /// earlier request may have created the note already.
    bool resend_unknown = false;

    /**
     * On cancellation: how long the calls in flight may still finish before they are cancelled
     * too. 0 (the default) cancels them at once. No line is taken after the cancellation.
     */
    std::chrono::milliseconds cancel_grace{0};
};

/**
 * @brief Imports every line of @p in, writing one result line per input line to @p out.
 *
 * Streams: at most `concurrency` lines are in flight and a bounded number (about a thousand
 * lines, or 1 MiB) read ahead, whatever the input size. Results are written in completion
 * order and flushed as they come. A malformed line gets a `rejected` result naming its line
 * number, and the import goes on. Blank lines are skipped without a result. Once a write to
 * @p out fails, no more lines are taken (`summary.error` says why; the calls in flight
 * finish, and with a journal their results are kept there for a resume).
 *
 * @p in is read on a thread of its own, which hands complete lines to the executor: while
 * the input stalls, calls in flight go on and their results are written. That thread is
 * joined before the import completes, so @p in is free to use (or destroy) then; the price
 * is that a stop waits for a read of @p in that blocks (see below).
 *
 * @par Thread safety
 * Run it on a single-threaded executor (an io_context run by one thread) or a strand: the
 * workers share the output and the counters without locks. Do not use @p in until the
 * import completes.
 *
 * With `opts.journal`, every line is journaled first, and an opened journal resumes an
 * interrupted import (see import_options::journal).
 *
 * @par Per-operation cancellation
 * Terminal cancellation of the awaiting coroutine stops taking input and, after
 * `opts.cancel_grace`, cancels the calls still in flight; their lines get `unknown` or `failed`
 * results, and `finished` is false. A std::istream cannot be interrupted: if a read of @p in
 * blocks (a stream over a pipe that stalls), the import waits for it and completes only once
 * it returns. To complete at once, hand the stream over by std::shared_ptr (the overload
 * below leaves that read to finish on its own), or, for pipes and terminals, pass the file
 * descriptor.
 */
STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, std::istream& in, std::ostream& out, import_options opts);

/**
 * @brief Imports every line of @p in, writing one result line per input line to @p out; the
 * import shares ownership of @p in, so that a stop never waits for a read of it.
 *
 * Like the std::istream& overload, except at the end. When the input was read to its end,
 * the reading thread has finished and is joined: with `finished` true, the stream is the
 * caller's again. When the import stops early (cancellation, a failed journal write) while
 * that thread is in a read that blocks, the import completes without waiting: the thread is
 * detached and finishes that read on its own. It then touches nothing of the import's, only
 * its share of @p in: the client, @p out and the executor (its io_context too) may go as soon
 * as the import completes. Once the read returns the thread drops its share and ends, so the
 * stream may be destroyed on that thread; a read that never returns keeps the thread and the
 * stream until the process ends.
 *
 * @p in must not be null: std::invalid_argument is thrown at the call.
 *
 * @par Thread safety
 * As the std::istream& overload. Do not use the stream after passing it, unless the import
 * completed with `finished` true: a thread may still be reading it.
 *
 * @par Per-operation cancellation
 * As the std::istream& overload, but the import completes within `opts.cancel_grace` (and the
 * time the calls then take to end) even while a read of @p in blocks.
 */
STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, std::shared_ptr<std::istream> in, std::ostream& out, import_options opts);

/**
 * @brief Imports every line read from the file descriptor @p input_fd (a pipe, a terminal, a
 * socket or a file), writing one result line per input line to @p out.
 *
 * Like the std::istream& overload, but the reading thread waits in poll(2) for input or for a
 * stop, and reads only what poll(2) says is there: the import stops at once on cancellation
 * even while a pipe that feeds it stalls (the CLI reads stdin this way). The thread is joined
 * before the import completes.
 *
 * @p input_fd is not owned: it is not closed, and its flags are left alone (`O_NONBLOCK` or
 * not). It must stay open until the import completes. A read error stops the import:
 * `import_summary::error` says why and `finished` is false.
 */
STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, int input_fd, std::ostream& out, import_options opts);

} // namespace stackone

#ifdef STACKONE_HEADER_ONLY
#include <stackone/impl/import.ipp>
#endif

#endif
