//
// stackone-notes: stderr output. See cli_console.hpp.
//
#include "cli_console.hpp"

#include "cli_options.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace stackone::cli {

namespace {

// Reports this close to a plain line's due time count as due, so a 1 s report cadence gives
// lines at 5 s, 10 s, ... rather than 6 s, 12 s when the timer fires a hair early.
constexpr auto plain_slack = std::chrono::milliseconds(500);

std::string printf_string(const char* format, double value)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, format, value);
    return buf;
}

// One "  name      value\n" row of the summary.
void append_row(std::string& out, std::string_view name, const std::string& value)
{
    out += "  ";
    out += name;
    out.append(name.size() < 10 ? 10 - name.size() : 1, ' ');
    out += value;
    out += '\n';
}

} // namespace

void console::message(std::string_view text)
{
    std::string out(program_name);
    out.append(": ").append(text);
    line(out);
}

void console::line(std::string_view text)
{
    std::string out(text);
    out.push_back('\n');

    std::lock_guard lock(mutex_);
    erase_status_locked();
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
}

void console::status(std::string_view text)
{
    if (!in_place_)
    {
        line(text);
        return;
    }

    // Back to column 0 and pad over what is left of a longer previous line, in one write.
    std::string out = "\r";
    out.append(text);
    std::lock_guard lock(mutex_);
    if (text.size() < status_width_)
    {
        out.append(status_width_ - text.size(), ' ');
    }
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
    status_width_ = text.size();
}

void console::end_status()
{
    std::lock_guard lock(mutex_);
    if (status_width_ != 0)
    {
        std::fputc('\n', stderr);
        std::fflush(stderr);
        status_width_ = 0;
    }
}

void console::erase_status_locked()
{
    if (status_width_ == 0)
    {
        return;
    }
    std::string blank = "\r";
    blank.append(status_width_, ' ');
    blank.push_back('\r');
    std::fwrite(blank.data(), 1, blank.size(), stderr);
    status_width_ = 0;
}

logger make_logger(console& out)
{
    logger log;
    log.sink = [&out](log_level level, std::string_view text) {
        std::string record(to_string(level));
        record.append(": ").append(text);
        out.message(record);
    };
    return log;
}

std::string format_eta(std::chrono::seconds d)
{
    auto total = d.count() < 0 ? 0 : d.count();
    char buf[32];
    if (total < 60)
    {
        std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(total));
    }
    else if (total < 3600)
    {
        std::snprintf(buf,
                      sizeof buf,
                      "%lldm%02llds",
                      static_cast<long long>(total / 60),
                      static_cast<long long>(total % 60));
    }
    else
    {
        std::snprintf(buf,
                      sizeof buf,
                      "%lldh%02lldm",
                      static_cast<long long>(total / 3600),
                      static_cast<long long>(total / 60 % 60));
    }
    return buf;
}

std::string format_elapsed(std::chrono::steady_clock::duration d)
{
    auto secs = std::chrono::duration<double>(d).count();
    if (secs < 10)
    {
        return printf_string("%.2fs", secs);
    }
    if (secs < 60)
    {
        return printf_string("%.1fs", secs);
    }
    return format_eta(std::chrono::duration_cast<std::chrono::seconds>(d));
}

double rate_of(const import_summary& s) noexcept
{
    auto secs = std::chrono::duration<double>(s.elapsed).count();
    // Results of an earlier run (resume) took no time in this one.
    return secs > 0 ? static_cast<double>(s.done - std::min(s.done, s.skipped)) / secs : 0.0;
}

std::string format_progress(const import_summary& s, std::optional<std::size_t> total)
{
    std::string out;
    double rate = rate_of(s);

    // Count, and the share when the total is known. The file may grow after it was counted:
    // never show more than 100%.
    if (total)
    {
        auto known = std::max(*total, s.lines);
        out = std::to_string(s.done) + "/" + std::to_string(known);
        if (known > 0)
        {
            out += printf_string(" %.0f%%", 100.0 * static_cast<double>(s.done) / known);
        }
    }
    else
    {
        out = std::to_string(s.done) + " done";
    }

    out += " | " + printf_string("%.1f notes/s", rate);

    // ETA from the rate so far: crude, but honest about a slow start.
    if (total && rate > 0)
    {
        auto known = std::max(*total, s.lines);
        auto left = static_cast<double>(known - std::min(known, s.done)) / rate;
        out += " | ETA " + format_eta(std::chrono::seconds(static_cast<long long>(left + 0.5)));
    }

    out += " | retries " + std::to_string(s.retries);
    out += " | failures " + std::to_string(s.failed + s.rejected + s.unknown);
    return out;
}

std::string format_summary(const import_summary& s, std::string_view results, bool interrupted)
{
    std::string out(program_name);
    if (interrupted || !s.finished)
    {
        out += ": import interrupted: input lines without a result line were not sent\n";
    }
    else if (s.all_created())
    {
        out += ": import finished: every line created\n";
    }
    else
    {
        out += ": import finished: some lines were not created\n";
    }

    auto row = [&out](std::string_view name, const std::string& value) {
        append_row(out, name, value);
    };
    row("lines", std::to_string(s.lines));
    row("created", std::to_string(s.created));
    row("failed", std::to_string(s.failed));
    row("rejected", std::to_string(s.rejected));
    row("unknown",
        std::to_string(s.unknown) + (s.unknown > 0 ? " (may have been created: "
                                                     "check before sending again)"
                                                   : ""));
    if (s.blank > 0)
        row("blank", std::to_string(s.blank) + " (skipped, no result line)");
    if (s.skipped > 0)
        row("earlier", std::to_string(s.skipped) + " (results of earlier runs, not sent again)");
    if (s.resent > 0)
        row("resent", std::to_string(s.resent) + " (in flight at the interruption, sent again)");
    row("retries", std::to_string(s.retries));
    row("elapsed", format_elapsed(s.elapsed));
    row("rate", printf_string("%.1f notes/s", rate_of(s)));
    row("results", std::string(results));
    out.pop_back();
    return out;
}

std::string format_client_stats(const pool_stats& p)
{
    std::string out;
    append_row(out,
               "pool",
               std::to_string(p.connections_opened) + " connections opened, " +
                   std::to_string(p.connections_reused) + " requests on reused ones, " +
                   std::to_string(p.full_handshakes) + " full and " +
                   std::to_string(p.resumed_handshakes) + " resumed TLS handshakes");
    append_row(out,
               "waits",
               std::to_string(p.rate_limit_waits) + " calls held by another call's 429, " +
                   std::to_string(p.paced_waits) + " by --rate, " +
                   std::to_string(p.budget_exhausted) + " retries refused by the budget");
    out.pop_back();
    return out;
}

progress_reporter::progress_reporter(console& out,
                                     std::optional<std::size_t> total,
                                     std::chrono::steady_clock::duration plain_every)
    : out_(out), total_(total), plain_every_(plain_every)
{}

void progress_reporter::report(const import_summary& s)
{
    if (out_.status_in_place())
    {
        out_.status(format_progress(s, total_));
        return;
    }

    // Plain output: the last report comes with the summary anyway.
    if (s.finished)
    {
        return;
    }
    auto due = last_plain_ ? *last_plain_ + plain_every_ : plain_every_;
    if (s.elapsed + plain_slack < due)
    {
        return;
    }
    last_plain_ = s.elapsed;
    out_.message("progress: " + format_progress(s, total_));
}

void progress_reporter::finish()
{
    out_.end_status();
}

} // namespace stackone::cli
