//
// Out-of-line bodies of import.hpp.
//
#ifndef STACKONE_IMPL_IMPORT_IPP
#define STACKONE_IMPL_IMPORT_IPP

#include <stackone/detail/json_write.hpp>
#include <stackone/impl/client.ipp>
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

#include <algorithm>
#include <cmath>
#include <istream>
#include <list>
#include <ostream>

namespace stackone {

namespace detail {

// True when @p v holds an infinite number anywhere. Boost.JSON 1.81 parses 1e400 as infinity
// and serializes it as `Infinity`, which is not JSON: such a line would give an invalid request
// body and an invalid result line. (The parser's depth limit bounds the recursion.)
inline bool has_infinite_number(const boost::json::value& v) noexcept
{
    if (v.is_double())
        return !std::isfinite(v.get_double());
    if (v.is_array())
        return std::any_of(v.get_array().begin(), v.get_array().end(), has_infinite_number);
    if (v.is_object())
        return std::any_of(v.get_object().begin(), v.get_object().end(), [](const auto& m) {
            return has_infinite_number(m.value());
        });
    return false;
}

} // namespace detail

STACKONE_DECL boost::system::result<import_item, decode_error>
parse_import_line(std::string_view line, std::size_t line_no) noexcept
{
    try
    {
        error_code ec;
        boost::json::value v = boost::json::parse(line, ec);
        if (ec)
            return decode_error{"not valid JSON: " + ec.message()};
        if (!v.is_object())
            return decode_error{"not a JSON object"};
        if (detail::has_infinite_number(v))
            return decode_error{"a number is too large for a double"};
        const auto& obj = v.get_object();

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
            item.key = *key;

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
        r.status = ec.value();
        r.outcome = ec.value() == 408 ? import_outcome::unknown : import_outcome::failed;
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
    if (!r.key.is_null())
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

namespace detail {

// The shared state of one import: the input, the output and the counters. Everything runs on
// one executor, so the workers take turns without locks.
struct import_run
{
    client& c;
    std::istream& in;
    std::ostream& out;
    import_options opts;
    import_summary summary;
    steady_clock::time_point started = steady_clock::now();
    std::size_t next_line = 0;
    bool input_done = false;
    bool stopping = false;
    std::list<asio::cancellation_signal> call_signals; // one per worker, for Ctrl-C

    import_run(client& cl, std::istream& i, std::ostream& o, import_options op)
        : c(cl), in(i), out(o), opts(std::move(op))
    {}

    // Reads the next line; lines over the limit are consumed whole and reported, never split.
    enum class line_status
    {
        ok,
        too_long,
        end
    };
    line_status read_line(std::string& line)
    {
        line.clear();
        if (input_done || stopping)
            return line_status::end;
        bool too_long = false;
        char ch = 0;
        bool any = false;
        while (in.get(ch))
        {
            any = true;
            if (ch == '\n')
                break;
            if (line.size() >= opts.max_line_bytes)
                too_long = true;
            else
                line.push_back(ch);
        }
        if (!any)
        {
            input_done = true;
            return line_status::end;
        }
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        ++next_line;
        ++summary.lines;
        return too_long ? line_status::too_long : line_status::ok;
    }

    void write(const import_record& r)
    {
        out << to_json_line(r);
        out.flush();
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

// One of `concurrency` workers: takes lines until the input ends, one call at a time.
// TODO(#6): journal each line before its call and its result after, so that --resume can skip
// done lines and mark the ones in flight `unknown` after a crash.
inline asio::awaitable<void> import_worker(import_run& run, asio::cancellation_signal& signal)
{
    std::string line;
    for (;;)
    {
        const auto status = run.read_line(line);
        if (status == import_run::line_status::end)
            co_return;
        const std::size_t line_no = run.next_line;
        if (status == import_run::line_status::too_long)
        {
            run.write(make_rejected_record(
                line_no, "longer than " + std::to_string(run.opts.max_line_bytes) + " bytes"));
            continue;
        }
        if (is_blank(line))
        {
            // A blank line (a trailing newline too many, say) is no note: counted, not sent,
            // and given no result line.
            ++run.summary.blank;
            ++run.summary.done;
            continue;
        }
        auto item = parse_import_line(line, line_no);
        if (!item)
        {
            run.write(make_rejected_record(line_no, item.error().what));
            continue;
        }

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
        run.write(make_import_record(*item, ec, res));
    }
}

} // namespace detail

STACKONE_DECL boost::asio::awaitable<import_summary>
run_import(client& c, std::istream& in, std::ostream& out, import_options opts)
{
    namespace asio = boost::asio;
    auto ex = co_await asio::this_coro::executor;
    const std::size_t workers = std::clamp<std::size_t>(opts.concurrency, 1, 10000);
    detail::import_run run(c, in, out, std::move(opts));

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
        asio::co_spawn(ex, detail::import_worker(run, signal), [&](std::exception_ptr) {
            if (--running == 0)
                wake.cancel();
        });
    }
    while (running > 0)
    {
        wake.expires_after(run.opts.progress_interval);
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        if (cs.cancelled() != asio::cancellation_type::none && !run.stopping)
        {
            // Stop taking lines and cancel the calls in flight; their results still arrive.
            run.stopping = true;
            for (auto& signal : run.call_signals)
                signal.emit(asio::cancellation_type::terminal);
        }
        if (running > 0)
            run.report();
    }

    run.summary.finished = run.input_done && !run.stopping;
    run.report();
    co_return run.summary;
}

} // namespace stackone

#endif
