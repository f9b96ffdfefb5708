//
// Out-of-line bodies of import.hpp.
//
#ifndef STACKONE_IMPL_IMPORT_IPP
#define STACKONE_IMPL_IMPORT_IPP

#include <stackone/detail/json_number.hpp>
#include <stackone/detail/json_write.hpp>
#include <stackone/impl/client.ipp>
#include <stackone/impl/internal/line_reader.hpp>
#include <stackone/import.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/throw_exception.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <istream>
#include <list>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace stackone {

namespace detail {

// Why a line that failed to parse as JSON is not even text, or "" when it is: a clearer error
// than the parser's "syntax error" for binary data, Latin-1 text and a byte order mark.
// Columns count bytes from 1.
inline std::string describe_bad_bytes(std::string_view line)
{
    if (line.starts_with("\xEF\xBB\xBF"))
        return "starts with a UTF-8 byte order mark (JSON Lines has none; remove it)";
    const auto at = [](const char* what, std::size_t i) {
        return std::string(what) + " at column " + std::to_string(i + 1);
    };
    for (std::size_t i = 0; i < line.size();)
    {
        const auto c = static_cast<unsigned char>(line[i]);
        if (c < 0x20 && c != '\t')
            return at("binary data (a control byte)", i);
        if (c < 0x80)
        {
            ++i;
            continue;
        }

        // Lead byte: sequence length and the smallest code point it may encode (no overlongs).
        std::size_t n = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if ((c & 0xE0) == 0xC0)
            n = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            n = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            n = 4, cp = c & 0x07, min = 0x10000;
        else
            return at("not valid UTF-8", i);
        if (i + n > line.size())
            return at("not valid UTF-8", i);
        for (std::size_t k = 1; k < n; ++k)
        {
            const auto cc = static_cast<unsigned char>(line[i + k]);
            if ((cc & 0xC0) != 0x80)
                return at("not valid UTF-8", i);
            cp = cp << 6 | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return at("not valid UTF-8", i);
        i += n;
    }
    return {};
}

// The name of the first member of @p obj that is not one of @p known, after @p where; empty
// when there is none. A long name is cut at 40 bytes, on a UTF-8 character boundary.
inline std::string first_unknown_member(const boost::json::object& obj,
                                        std::initializer_list<std::string_view> known,
                                        std::string_view where)
{
    for (const auto& member : obj)
    {
        const std::string_view name = member.key();
        if (std::find(known.begin(), known.end(), name) != known.end())
            continue;
        std::size_t cut = std::min<std::size_t>(name.size(), 40);
        while (cut < name.size() && cut > 0 &&
               (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80)
            --cut;
        return std::string(where) + std::string(name.substr(0, cut)) +
               (cut < name.size() ? "..." : "");
    }
    return {};
}

// The first field of an import line that is not one of the line's own or the note's, nested
// ones included (passthrough is free-form); nullopt when there is none.
inline std::optional<std::string> unknown_field(const boost::json::object& line)
{
    auto name = first_unknown_member(line,
                                     {"candidate_id",
                                      "account_id",
                                      "key",
                                      "body",
                                      "content",
                                      "author_id",
                                      "visibility",
                                      "passthrough"},
                                     "");
    if (const auto* content = line.if_contains("content");
        name.empty() && content && content->is_array())
    {
        std::size_t index = 0;
        for (const auto& item : content->get_array())
        {
            if (item.is_object())
                name = first_unknown_member(
                    item.get_object(), {"body"}, "content[" + std::to_string(index) + "].");
            if (!name.empty())
                break;
            ++index;
        }
    }
    if (const auto* vis = line.if_contains("visibility"); name.empty() && vis && vis->is_object())
        name = first_unknown_member(vis->get_object(), {"value", "source_value"}, "visibility.");
    if (name.empty())
        return std::nullopt;
    return name;
}

} // namespace detail

STACKONE_DECL boost::system::result<import_item, decode_error>
parse_import_line(std::string_view line, std::size_t line_no) noexcept
{
    try
    {
        // Doubles correctly rounded, and the key's own text kept: the result echoes it as is.
        error_code ec;
        std::string key_text;
        boost::json::value v = detail::parse_json_exact(line, ec, "key", &key_text);
        if (ec)
        {
            auto bad_bytes = detail::describe_bad_bytes(line);
            if (!bad_bytes.empty())
                return decode_error{std::move(bad_bytes)};
            return decode_error{"not valid JSON: " + ec.message()};
        }
        if (!v.is_object())
            return decode_error{"not a JSON object"};
        // Boost.JSON reads 1e400 as infinity and would write it as `Infinity`, which is not
        // JSON: such a line would give an invalid request body and an invalid result line.
        if (detail::find_non_finite_number(v))
            return decode_error{"a number is too large for a double"};
        const auto& obj = v.get_object();

        // A misspelt field ("visiblity", "content[0].bdy") would otherwise be dropped and the
        // note created without it: the line is refused instead.
        if (auto unknown = detail::unknown_field(obj))
            return decode_error{"unknown field \"" + *unknown +
                                "\" (a line has candidate_id, account_id, key, body, content "
                                "[{body}], author_id, visibility {value, source_value} and "
                                "passthrough)"};

        import_item item;
        item.line = line_no;
        const auto* id = obj.if_contains("candidate_id");
        if (!id)
            return decode_error{"candidate_id is missing"};
        if (!id->is_string() || id->get_string().empty())
            return decode_error{"candidate_id must be a non-empty string"};
        item.candidate_id = std::string(id->get_string());

        if (const auto* account = obj.if_contains("account_id"); account && !account->is_null())
        {
            if (!account->is_string())
                return decode_error{"account_id must be a string"};
            item.account_id = std::string(account->get_string());
        }
        if (const auto* key = obj.if_contains("key"))
        {
            item.key = *key;
            if (key->is_number())
                item.key_text = std::move(key_text);
        }

        auto n = note_from_json(obj, true);
        if (!n)
            return n.error();
        item.body = std::move(*n);
        return item;
    }
    catch (const std::exception& e)
    {
        // Only allocation failure can land here; the line is reported, not the process.
        return decode_error{std::string("cannot read line: ") + e.what()};
    }
}

STACKONE_DECL std::string_view to_string(import_outcome o) noexcept
{
    switch (o)
    {
    case import_outcome::created:
        return "created";
    case import_outcome::failed:
        return "failed";
    case import_outcome::rejected:
        return "rejected";
    case import_outcome::unknown:
        return "unknown";
    }
    return "unknown";
}

STACKONE_DECL import_record make_import_record(const import_item& item,
                                               const error_code& ec,
                                               const create_result& res)
{
    import_record r;
    r.line = item.line;
    r.key = item.key;
    r.key_text = item.key_text;
    r.candidate_id = item.candidate_id;
    r.attempts = res.diag.attempts;
    r.possible_duplicate = res.diag.possible_duplicate;
    r.heartbeat_applied = res.heartbeat_applied;
    r.heartbeat_bytes = res.heartbeat_bytes;
    r.status = res.status != 0 ? res.status : res.diag.http_status;
    if (!ec)
    {
        r.outcome = import_outcome::created;
        r.id = res.id;
        r.remote_id = res.remote_id;
        return r;
    }

    // Nothing sent, or a definite refusal: failed. Anything that may have run: unknown.
    if (is_http_error(ec))
    {
        // The status decides: a refusal created nothing; a 408 or a 5xx may have (a provider
        // that finished behind a 502, say).
        r.status = ec.value();
        r.outcome =
            status_may_have_created(ec.value()) ? import_outcome::unknown : import_outcome::failed;
    }
    else
    {
        r.outcome =
            res.diag.may_have_been_processed ? import_outcome::unknown : import_outcome::failed;
    }
    if (r.possible_duplicate && r.outcome == import_outcome::failed)
        r.outcome = import_outcome::unknown;
    r.error = ec.message();
    if (!res.diag.message.empty())
        r.error += ": " + res.diag.message;
    if (!res.diag.detail.empty())
        r.error += " (" + res.diag.detail + ")";
    return r;
}

STACKONE_DECL import_record make_rejected_record(std::size_t line, std::string why)
{
    import_record r;
    r.line = line;
    r.outcome = import_outcome::rejected;
    r.error = "line " + std::to_string(line) + ": " + why;
    return r;
}

STACKONE_DECL std::string to_json_line(const import_record& r)
{
    std::string out;
    out.reserve(160 + r.candidate_id.size() + r.error.size());
    out.append("{\"line\":").append(std::to_string(r.line));
    if (!r.key_text.empty())
        out.append(",\"key\":").append(r.key_text);
    else if (!r.key.is_null())
        out.append(",\"key\":").append(boost::json::serialize(r.key));
    if (!r.candidate_id.empty())
    {
        out.append(",\"candidate_id\":");
        detail::append_json_string(out, r.candidate_id);
    }
    out.append(",\"outcome\":\"").append(to_string(r.outcome)).append("\"");
    out.append(",\"status\":").append(std::to_string(r.status));
    auto append_id = [&](std::string_view name, const field<std::string>& f) {
        if (f.is_absent())
            return;
        out.append(",\"").append(name).append("\":");
        if (f.is_null())
            out.append("null");
        else
            detail::append_json_string(out, f.value());
    };
    append_id("id", r.id);
    append_id("remote_id", r.remote_id);
    out.append(",\"attempts\":").append(std::to_string(r.attempts));
    if (r.possible_duplicate)
        out.append(",\"possible_duplicate\":true");
    if (r.heartbeat_applied)
        out.append(",\"heartbeat_applied\":true");
    if (r.heartbeat_bytes > 0)
        out.append(",\"heartbeat_bytes\":").append(std::to_string(r.heartbeat_bytes));
    if (!r.error.empty())
    {
        out.append(",\"error\":");
        detail::append_json_string(out, r.error);
    }
    out.append("}\n");
    return out;
}

// --- the journal ---------------------------------------------------------------------------

namespace detail {

inline import_journal_error journal_errno(std::string_view what, const std::string& path)
{
    const int e = errno;
    return import_journal_error{std::string(what) + " '" + path + "': " + std::strerror(e)};
}

inline std::string journal_header(std::string_view input_id)
{
    std::string h = "{\"stackone_import_journal\":1,\"input\":";
    append_json_string(h, input_id);
    h += "}\n";
    return h;
}

// "created" etc. back to the enum; false for anything else.
inline bool outcome_of(std::string_view text, import_outcome& o) noexcept
{
    for (auto candidate : {import_outcome::created,
                           import_outcome::failed,
                           import_outcome::rejected,
                           import_outcome::unknown})
    {
        if (text == to_string(candidate))
        {
            o = candidate;
            return true;
        }
    }
    return false;
}

// Reads a line number at the start of @p text and drops it (and one following space).
inline bool take_line_number(std::string_view& text, std::size_t& line) noexcept
{
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), line);
    if (ec != std::errc() || end == text.data() || line == 0)
        return false;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (!text.empty())
    {
        if (text.front() != ' ')
            return false;
        text.remove_prefix(1);
    }
    return true;
}

// The parts of an `R` record after the "R ".
struct result_record
{
    std::size_t line = 0;
    import_outcome outcome = import_outcome::failed;
    std::string_view json;
};

inline bool parse_result_record(std::string_view text, result_record& r) noexcept
{
    if (!take_line_number(text, r.line))
        return false;
    const auto space = text.find(' ');
    if (space == std::string_view::npos || !outcome_of(text.substr(0, space), r.outcome))
        return false;
    r.json = text.substr(space + 1);
    return r.json.size() >= 2 && r.json.front() == '{' && r.json.back() == '}';
}

// Calls @p on_record(text) for each complete record after the header; returns the byte offset
// just past the last complete line (a torn last line is not passed on) and the header.
template <class F>
boost::system::result<std::pair<std::uint64_t, std::string>, import_journal_error>
read_journal_file(const std::string& path, F&& on_record)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return journal_errno("cannot read journal", path);
    std::uint64_t complete = 0;
    std::string header;
    std::string line;
    bool first = true;
    while (std::getline(in, line))
    {
        // getline() at end of file without '\n': a record torn by the crash. Not passed on.
        if (in.eof())
            break;
        complete += line.size() + 1;
        if (first)
        {
            header = std::move(line);
            first = false;
            continue;
        }
        if (auto r = on_record(std::string_view(line)); !r)
            return r.error();
    }
    if (in.bad())
        return journal_errno("cannot read journal", path);
    return std::pair{complete, std::move(header)};
}

} // namespace detail

STACKONE_DECL boost::system::result<import_journal, import_journal_error>
import_journal::create(const std::string& path, std::string_view input_id, bool replace)
{
    import_journal j;
    j.path_ = path;
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL);
    j.fd_ = ::open(path.c_str(), flags, 0644);
    if (j.fd_ < 0)
        return detail::journal_errno("cannot create journal", path);
    if (auto r = j.append(detail::journal_header(input_id)); !r)
        return r.error();
    return j;
}

STACKONE_DECL boost::system::result<import_journal, import_journal_error>
import_journal::open(const std::string& path, std::string_view input_id)
{
    import_journal j;
    j.path_ = path;
    std::size_t record_no = 1;
    auto on_record =
        [&](std::string_view text) -> boost::system::result<void, import_journal_error> {
        ++record_no;
        auto corrupt = [&](std::string_view why) {
            return import_journal_error{"journal '" + path + "' is corrupt at line " +
                                        std::to_string(record_no) + ": " + std::string(why)};
        };
        if (text.starts_with("S "))
        {
            std::size_t line = 0;
            text.remove_prefix(2);
            if (!detail::take_line_number(text, line) || !text.empty())
                return corrupt("bad start record");
            if (j.is_done(line))
                return corrupt("line " + std::to_string(line) + " started after its result");
            j.in_flight_.insert(line);
            return {};
        }
        if (text.starts_with("R "))
        {
            detail::result_record r;
            if (!detail::parse_result_record(text.substr(2), r))
                return corrupt("bad result record");
            if (j.is_done(r.line))
                return corrupt("a second result for line " + std::to_string(r.line));
            j.mark_done(r.line);
            j.in_flight_.erase(r.line);
            ++j.recorded_.done;
            switch (r.outcome)
            {
            case import_outcome::created:
                ++j.recorded_.created;
                break;
            case import_outcome::failed:
                ++j.recorded_.failed;
                break;
            case import_outcome::rejected:
                ++j.recorded_.rejected;
                break;
            case import_outcome::unknown:
                ++j.recorded_.unknown;
                break;
            }
            return {};
        }
        return corrupt("unknown record");
    };
    auto read = detail::read_journal_file(path, on_record);
    if (!read)
        return read.error();
    auto [complete, header] = std::move(*read);
    j.results_ = j.recorded_.done;

    // The header names the input. A journal without a complete header has no other record
    // either (nothing was sent): it is started over.
    if (complete > 0)
    {
        error_code ec;
        auto v = boost::json::parse(header, ec);
        const auto* obj = !ec ? v.if_object() : nullptr;
        const auto* version = obj ? obj->if_contains("stackone_import_journal") : nullptr;
        const auto* input = obj ? obj->if_contains("input") : nullptr;
        if (!version || *version != 1 || !input || !input->is_string())
            return import_journal_error{"'" + path + "' is not an import journal"};
        if (input->get_string() != input_id)
        {
            return import_journal_error{"journal '" + path +
                                        "' records another input (it was started for " +
                                        boost::json::serialize(*input) + ")"};
        }
    }

    // Cut a torn last record off, so that appended records start on a line of their own.
    j.fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (j.fd_ < 0)
        return detail::journal_errno("cannot open journal", path);
    if (::ftruncate(j.fd_, static_cast<off_t>(complete)) != 0)
        return detail::journal_errno("cannot cut the torn end of journal", path);
    if (complete == 0)
    {
        if (auto r = j.append(detail::journal_header(input_id)); !r)
            return r.error();
    }
    return j;
}

STACKONE_DECL import_journal::import_journal(import_journal&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)),
      done_(std::move(other.done_)), in_flight_(std::move(other.in_flight_)),
      results_(other.results_), recorded_(other.recorded_)
{}

STACKONE_DECL import_journal& import_journal::operator=(import_journal&& other) noexcept
{
    if (this != &other)
    {
        if (fd_ >= 0)
            ::close(fd_);
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
        done_ = std::move(other.done_);
        in_flight_ = std::move(other.in_flight_);
        results_ = other.results_;
        recorded_ = other.recorded_;
    }
    return *this;
}

STACKONE_DECL import_journal::~import_journal()
{
    if (fd_ >= 0)
        ::close(fd_);
}

inline void import_journal::mark_done(std::size_t line)
{
    if (line >= done_.size())
        done_.resize(std::max(line + 1, done_.size() * 2));
    done_[line] = true;
}

inline boost::system::result<void, import_journal_error>
import_journal::append(std::string_view record)
{
    // One write(2) per record; a short write (disk nearly full) is finished by more writes.
    while (!record.empty())
    {
        const auto n = ::write(fd_, record.data(), record.size());
        if (n < 0)
        {
            if (errno == EINTR)
                continue;
            return detail::journal_errno("cannot write journal", path_);
        }
        record.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

STACKONE_DECL boost::system::result<void, import_journal_error>
import_journal::record_started(std::size_t line)
{
    return append("S " + std::to_string(line) + "\n");
}

STACKONE_DECL boost::system::result<void, import_journal_error>
import_journal::record_result(const import_record& r, std::string_view json_line)
{
    if (!json_line.empty() && json_line.back() == '\n')
        json_line.remove_suffix(1);
    std::string rec;
    rec.reserve(json_line.size() + 32);
    rec.append("R ").append(std::to_string(r.line)).append(" ");
    rec.append(to_string(r.outcome)).append(" ").append(json_line).append("\n");
    auto written = append(rec);
    if (written)
    {
        mark_done(r.line);
        ++results_;
    }
    return written;
}

STACKONE_DECL boost::system::result<std::size_t, import_journal_error>
import_journal::copy_results(std::ostream& out, std::size_t skip) const
{
    std::size_t seen = 0;
    std::size_t copied = 0;
    auto on_record =
        [&](std::string_view text) -> boost::system::result<void, import_journal_error> {
        detail::result_record r;
        if (!text.starts_with("R ") || !detail::parse_result_record(text.substr(2), r))
            return {};
        if (seen++ < skip)
            return {};
        out << r.json << '\n';
        ++copied;
        return {};
    };
    auto read = detail::read_journal_file(path_, on_record);
    if (!read)
        return read.error();
    if (!out)
        return import_journal_error{"cannot write the results copied from '" + path_ + "'"};
    return copied;
}

STACKONE_DECL boost::system::result<std::size_t, import_journal_error>
sync_results_file(const import_journal& journal, const std::string& path)
{
    // Count the complete lines, and where the last one ends.
    std::size_t lines = 0;
    std::uint64_t complete = 0;
    bool exists = false;
    {
        std::ifstream in(path, std::ios::binary);
        if (in)
        {
            exists = true;
            std::uint64_t offset = 0;
            char block[1 << 16];
            while (in.read(block, sizeof block) || in.gcount() > 0)
            {
                const auto n = static_cast<std::size_t>(in.gcount());
                for (std::size_t i = 0; i < n; ++i)
                {
                    if (block[i] == '\n')
                    {
                        ++lines;
                        complete = offset + i + 1;
                    }
                }
                offset += n;
            }
            if (in.bad())
                return detail::journal_errno("cannot read results", path);
        }
    }
    if (lines > journal.results())
    {
        return import_journal_error{"results file '" + path + "' has " + std::to_string(lines) +
                                    " lines but journal '" + journal.path() + "' only " +
                                    std::to_string(journal.results()) +
                                    " results: they are not of the same import"};
    }

    // A torn last line is cut; the results the journal has beyond the file are appended.
    if (exists && ::truncate(path.c_str(), static_cast<off_t>(complete)) != 0)
        return detail::journal_errno("cannot cut the torn end of results", path);
    std::ofstream out(path, std::ios::binary | std::ios::app);
    if (!out)
        return detail::journal_errno("cannot write results", path);
    auto copied = journal.copy_results(out, lines);
    if (!copied)
        return copied.error();
    out.flush();
    if (!out)
        return detail::journal_errno("cannot write results", path);
    return *copied;
}

namespace detail {

// The bounds of the queue between the input's reader thread and the executor: lines enough
// to keep the workers busy between two wake-ups, little memory next to the calls in flight.
inline constexpr std::size_t input_queue_lines = 1024;
inline constexpr std::size_t input_queue_bytes = 1024 * 1024;

// The shared state of one import: the input, the output and the counters. Everything but the
// reader thread runs on one executor, so the workers take turns without locks; the reader
// hands its lines over through a line_queue.
struct import_run
{
    client& c;
    std::ostream& out;
    import_options opts;
    import_summary summary;
    steady_clock::time_point started = steady_clock::now();
    bool input_done = false;
    bool stopping = false;
    std::list<asio::cancellation_signal> call_signals; // one per worker, for Ctrl-C

    // The input: a thread reads it into the queue; the workers take lines from `taken`, which
    // is refilled from the queue, and wait on `input_wake` when both are empty.
    std::shared_ptr<line_queue> input =
        std::make_shared<line_queue>(input_queue_lines, input_queue_bytes);
    std::thread reader;
    bool reader_may_outlive = false; // it owns a share of its input: it may be left running
    std::deque<input_line> taken;
    asio::steady_timer input_wake;

    import_run(client& cl, const asio::any_io_executor& ex, std::ostream& o, import_options op)
        : c(cl), out(o), opts(std::move(op)), input_wake(ex, steady_clock::time_point::max())
    {
        // On resume the earlier results count from the start; their lines are skipped.
        if (opts.journal)
        {
            const auto& earlier = opts.journal->recorded();
            summary.done = summary.skipped = earlier.done;
            summary.created = earlier.created;
            summary.failed = earlier.failed;
            summary.rejected = earlier.rejected;
            summary.unknown = earlier.unknown;
        }
    }

    import_run(const import_run&) = delete;
    import_run& operator=(const import_run&) = delete;

    // Normally the reader was waited for or left already (end_reader); this is for a frame
    // destroyed unfinished, with its io_context: the reader must not post to it meanwhile.
    ~import_run()
    {
        input->stop();
        input->close();
        if (reader.joinable())
        {
            if (reader_may_outlive)
                reader.detach();
            else
                reader.join();
        }
    }

    // No more lines are taken: the reader is told to stop, and workers waiting for a line end.
    void stop_taking()
    {
        stopping = true;
        input->stop();
        input_wake.cancel();
    }

    // A journal or results write or the input failed: take no more lines (the calls in flight may
    // still finish).
    void fail(std::string why)
    {
        if (summary.error.empty())
            summary.error = std::move(why);
        stop_taking();
    }

    // The next input line; false when no more is taken (end of input, a stop, a read error).
    // Never blocks the executor: with nothing queued it waits for the reader's wake-up.
    asio::awaitable<bool> next_line(input_line& line)
    {
        for (;;)
        {
            if (input_done || stopping)
                co_return false;
            if (!taken.empty())
            {
                line = std::move(taken.front());
                taken.pop_front();
                ++summary.lines;
                co_return true;
            }
            switch (input->take(taken))
            {
            case line_queue::take_status::lines:
                break;
            case line_queue::take_status::ended:
                input_done = true;
                if (auto why = input->error(); !why.empty())
                    fail(std::move(why));
                co_return false;
            case line_queue::take_status::empty:
                co_await input_wake.async_wait(asio::as_tuple(asio::use_awaitable));
                break;
            }
        }
    }

    // Waits, on the executor, until the reader has finished, then joins it. Stopped first, it
    // finishes at once: woken in poll(2), or between two reads of a stream. A read of a stream
    // that blocks is waited for, unless the reader shares the stream: then it is left to
    // finish on its own, and the queue is closed first, so it touches nothing of this import.
    asio::awaitable<void> end_reader()
    {
        input->stop();
        if (reader_may_outlive && !input->reader_finished())
        {
            input->close();
            reader.detach();
            co_return;
        }
        while (!input->reader_finished())
            co_await input_wake.async_wait(asio::as_tuple(asio::use_awaitable));
        reader.join();
        input->close();
    }

    // The result goes to the journal first, so the results stream is never ahead of it. A
    // result the journal refused is not written either: the journal keeps the line in flight,
    // so a resume marks it `unknown` instead of finding a results file it cannot account for.
    void write(const import_record& r)
    {
        const auto json = to_json_line(r);
        if (opts.journal)
        {
            if (auto journaled = opts.journal->record_result(r, json); !journaled)
            {
                fail(journaled.error().what);
                return;
            }
        }
        out << json;
        out.flush();
        // A results stream that fails (a full disk, a closed pipe) stops the import: lines
        // sent from now on would have results nobody can read.
        if (!out && summary.error.empty())
            fail("cannot write results");
        ++summary.done;
        switch (r.outcome)
        {
        case import_outcome::created:
            ++summary.created;
            break;
        case import_outcome::failed:
            ++summary.failed;
            break;
        case import_outcome::rejected:
            ++summary.rejected;
            break;
        case import_outcome::unknown:
            ++summary.unknown;
            break;
        }
        if (r.attempts > 1)
            summary.retries += static_cast<std::size_t>(r.attempts - 1);
    }

    void report()
    {
        summary.elapsed = steady_clock::now() - started;
        if (opts.on_progress)
            opts.on_progress(summary);
    }
};

inline bool is_blank(std::string_view line)
{
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// The result of a line that was in flight when an earlier run died, and is not sent again.
inline import_record make_interrupted_record(const import_item& item)
{
    import_record r;
    r.line = item.line;
    r.key = item.key;
    r.key_text = item.key_text;
    r.candidate_id = item.candidate_id;
    r.outcome = import_outcome::unknown;
    r.error = "in flight when an earlier run stopped: the request may have been sent and the "
              "note created; check before sending it again";
    return r;
}

// One of `concurrency` workers: takes lines until the input ends, one call at a time. With a
// journal, each line is recorded before its call and its result before the result line.
inline asio::awaitable<void> import_worker(import_run& run, asio::cancellation_signal& signal)
{
    input_line line;
    while (co_await run.next_line(line))
    {
        const std::size_t line_no = line.number;

        // Resuming: an earlier run wrote this line's result.
        if (run.opts.journal && run.opts.journal->is_done(line_no))
            continue;
        if (line.too_long)
        {
            run.write(make_rejected_record(
                line_no, "longer than " + std::to_string(run.opts.max_line_bytes) + " bytes"));
            continue;
        }
        if (is_blank(line.text))
        {
            // A blank line (a trailing newline too many, say) is no note: counted, not sent,
            // and given no result line.
            ++run.summary.blank;
            ++run.summary.done;
            continue;
        }
        auto item = parse_import_line(line.text, line_no);
        if (!item)
        {
            run.write(make_rejected_record(line_no, item.error().what));
            continue;
        }

        // Resuming: the line was in flight when an earlier run died. It may exist already, so
        // it is sent again only when asked, and then marked as a possible duplicate.
        const bool sent_before = run.opts.journal && run.opts.journal->in_flight().count(line_no);
        if (sent_before && !run.opts.resend_unknown)
        {
            run.write(make_interrupted_record(*item));
            continue;
        }

        // Journaled before the first byte can leave: a crash from here on leaves it in flight.
        if (run.opts.journal)
        {
            if (auto journaled = run.opts.journal->record_started(line_no); !journaled)
            {
                run.fail(journaled.error().what);
                co_return;
            }
        }
        if (sent_before)
            ++run.summary.resent;

        call_options call = run.opts.call;
        if (!item->account_id.empty())
            call.account_id = item->account_id;
        ++run.summary.in_flight;
        auto [ec, res] = co_await run.c.async_create_candidate_note(
            item->candidate_id,
            item->body,
            call,
            asio::bind_cancellation_slot(signal.slot(), asio::as_tuple(asio::use_awaitable)));
        --run.summary.in_flight;
        auto record = make_import_record(*item, ec, res);
        if (sent_before)
        {
            record.possible_duplicate = true;
            if (record.outcome == import_outcome::failed)
                record.outcome = import_outcome::unknown;
        }
        run.write(record);
    }
}

} // namespace detail

namespace detail {

// How an import's input is read.
struct input_reader
{
    // Starts the thread that reads the input into the queue, lines up to the given length.
    std::function<std::thread(std::shared_ptr<line_queue>, std::size_t)> start;
    bool wake_pipe = false;   // it waits in poll(2): a stop must write to the queue's pipe
    bool may_outlive = false; // it owns a share of its input: a stop need not wait for it
};

// The import, whichever the input.
inline asio::awaitable<import_summary>
run_import_from(client& c, std::ostream& out, import_options opts, input_reader input)
{
    auto ex = co_await asio::this_coro::executor;
    const std::size_t workers = std::clamp<std::size_t>(opts.concurrency, 1, 10000);
    import_run run(c, ex, out, std::move(opts));

    // The reader runs ahead of the workers, as far as the queue's bounds let it.
    run.input->open(ex, run.input_wake, input.wake_pipe);
    run.reader_may_outlive = input.may_outlive;
    run.reader = input.start(run.input, run.opts.max_line_bytes);
    input.start = nullptr; // with it goes its share of the input, if it has one

    // The caller's cancellation is noticed after each wake-up below (the timer wait is bound to
    // this coroutine's cancellation slot, so it wakes at once). Throwing is turned off: this
    // frame must outlive the workers, which hold references into it.
    co_await asio::this_coro::throw_if_cancelled(false);
    auto cs = co_await asio::this_coro::cancellation_state;

    // Workers finish in any order; the last one wakes this coroutine early. Otherwise it wakes
    // every progress_interval to report.
    asio::steady_timer wake(ex);
    std::size_t running = workers;
    for (std::size_t i = 0; i < workers; ++i)
    {
        auto& signal = run.call_signals.emplace_back();
        asio::co_spawn(ex, import_worker(run, signal), [&](std::exception_ptr) {
            if (--running == 0)
                wake.cancel();
        });
    }
    // On cancellation: no more lines at once (the reader stops too, even in a read of a pipe
    // that stalls); the calls in flight are cancelled once the grace has passed (at once
    // without one). Their results still arrive.
    bool cancelled = false;
    bool calls_cancelled = false;
    using clock = std::chrono::steady_clock;
    clock::time_point grace_end{};
    while (running > 0)
    {
        auto wait = std::chrono::duration_cast<clock::duration>(run.opts.progress_interval);
        if (cancelled && !calls_cancelled)
            wait = std::min(wait, grace_end - clock::now());
        wake.expires_after(wait);
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        if (cs.cancelled() != asio::cancellation_type::none && !cancelled)
        {
            cancelled = true;
            run.stop_taking();
            grace_end = clock::now() + run.opts.cancel_grace;
        }
        if (cancelled && !calls_cancelled && clock::now() >= grace_end)
        {
            calls_cancelled = true;
            for (auto& signal : run.call_signals)
                signal.emit(asio::cancellation_type::terminal);
        }
        if (running > 0)
            run.report();
    }

    // Every result is written; the reader is done with the input before the caller gets it
    // back, or, when it shares the input, it may be left in a read that blocks.
    co_await run.end_reader();
    run.summary.finished = run.input_done && !run.stopping;
    run.report();
    co_return run.summary;
}

} // namespace detail

STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, std::istream& in, std::ostream& out, import_options opts)
{
    detail::input_reader reader;
    reader.start = [&in](auto queue, std::size_t max_line) {
        return std::thread(detail::read_stream, std::move(queue), std::ref(in), max_line);
    };
    return detail::run_import_from(c, out, std::move(opts), std::move(reader));
}

STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, std::shared_ptr<std::istream> in, std::ostream& out, import_options opts)
{
    // Refused before anything starts: the reader would have nothing to read.
    if (!in)
        boost::throw_exception(std::invalid_argument("run_import: the input stream is null"));

    // The thread gets its own share of the stream, so it may be left in a read that blocks.
    detail::input_reader reader;
    reader.may_outlive = true;
    reader.start = [in = std::move(in)](auto queue, std::size_t max_line) {
        return std::thread(detail::read_shared_stream, std::move(queue), in, max_line);
    };
    return detail::run_import_from(c, out, std::move(opts), std::move(reader));
}

STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, int input_fd, std::ostream& out, import_options opts)
{
    detail::input_reader reader;
    reader.wake_pipe = true;
    reader.start = [input_fd](auto queue, std::size_t max_line) {
        return std::thread(detail::read_descriptor, std::move(queue), input_fd, max_line);
    };
    return detail::run_import_from(c, out, std::move(opts), std::move(reader));
}

} // namespace stackone

#endif
