//
// stackone-notes: creates candidate notes in StackOne, one from the command line (`create`) or
// many from a JSONL file (`import`).
//
// Options are parsed and checked first (cli_options), then a subcommand runs one client on one
// thread. Output for people goes to stderr (cli_console); results go to stdout or a file. Every
// check runs before the client exists, so a usage error never sends a request.
//
#include "cli_console.hpp"
#include "cli_options.hpp"

#include <stackone/client.hpp>
#include <stackone/error.hpp>
#include <stackone/import.hpp>
#include <stackone/note.hpp>
#include <stackone/options.hpp>
#include <stackone/version.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <CLI/CLI.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace cli = stackone::cli;
namespace fs = std::filesystem;

// Exit statuses; documented in --help.
constexpr int exit_all_created = 0;
constexpr int exit_not_all_created = 1;
constexpr int exit_usage = 2;
constexpr int exit_interrupted = 130;

constexpr std::string_view environment_help =
    "Environment:\n"
    "  STACKONE_API_KEY     the API key, unless --api-key-file is given. There is no --api-key\n"
    "                       option: keys on command lines leak into `ps` and shell history.\n"
    "  STACKONE_ACCOUNT_ID  default of --account-id\n"
    "  STACKONE_BASE_URL    default of --base-url\n"
    "\n"
    "Exit status: 0 every note created; 1 something failed, was rejected or is unknown;\n"
    "2 usage error (nothing was sent); 130 interrupted.";

constexpr std::string_view import_help =
    "Input: one JSON object a line, e.g. {\"candidate_id\": \"c-1\", \"body\": \"text\"}, or the\n"
    "API's note fields (content, author_id, visibility, passthrough); optional account_id and\n"
    "key (echoed in the result). Results: one JSON line per input line, in completion order,\n"
    "outcome created, failed, rejected (bad line, never sent) or unknown (may have been\n"
    "created: check before sending it again). Progress and the summary go to stderr.\n"
    "\n"
    "Every line is recorded in a journal (--journal) before it is sent, and its result before\n"
    "the result line. After a crash, kill or Ctrl-C, the same command with --resume goes on:\n"
    "lines with a result are skipped, lines that were in flight get an unknown result (not\n"
    "sent again unless --resend-unknown), results are appended. The journal survives the\n"
    "process being killed, not a power loss.\n"
    "\n"
    "SIGINT or SIGTERM: no more lines are taken; calls in flight may finish for --stop-grace,\n"
    "then are cancelled; their results are written and the exit status is 130. The process\n"
    "ends at most 10 s after the grace even if something hangs (--resume deals with what\n"
    "was in flight). A second signal quits at once.\n";

// --- running one piece of work -------------------------------------------------------------

/**
 * Turns the first SIGINT or SIGTERM into terminal cancellation of the work, so the calls in
 * flight end at once and their results are still written. A second signal quits without
 * waiting.
 *
 * The signals are taken by a thread of its own (sigwait), not by the I/O thread, so that the
 * first signal starts the watchdog that bounds the time to exit whatever the I/O thread is
 * doing. (It never waits for input: the importer reads on a thread of its own, which a stop
 * wakes even in a read of a stalled pipe; the watchdog is the last resort.)
 */
class interrupter
{
public:
    /// @p hard_limit: after a signal, the process quits (status 130) if the work is not over
    /// within this time, whatever it is waiting for.
    interrupter(asio::io_context& io, cli::console& out, std::chrono::milliseconds hard_limit)
        : io_(io), out_(out), hard_limit_(hard_limit)
    {
        ::sigemptyset(&signals_);
        ::sigaddset(&signals_, SIGINT);
        ::sigaddset(&signals_, SIGTERM);
        // Blocked here first, so that only the listener (which inherits the mask) takes them.
        ::pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
        listener_ = std::thread([this] { listen(); });
    }

    ~interrupter()
    {
        {
            std::lock_guard lock(watchdog_mutex_);
            over_ = true;
        }
        watchdog_wake_.notify_all();
        // Wakes the listener's sigwait(); it sees over_ and returns.
        ::pthread_kill(listener_.native_handle(), SIGTERM);
        listener_.join();
        if (watchdog_.joinable())
        {
            watchdog_.join();
        }
        ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    }

    interrupter(const interrupter&) = delete;
    interrupter& operator=(const interrupter&) = delete;

    /// The slot to bind to the work's completion token.
    asio::cancellation_slot slot() { return cancel_.slot(); }

    /// True once a signal arrived.
    bool interrupted() const noexcept { return interrupted_.load(); }

private:
    // On the listener thread.
    void listen()
    {
        for (;;)
        {
            int signo = 0;
            if (::sigwait(&signals_, &signo) != 0)
            {
                continue;
            }
            {
                std::lock_guard lock(watchdog_mutex_);
                if (over_)
                {
                    return;
                }
            }

            // The user does not want to wait for the calls in flight: results may be missing.
            if (interrupted_.exchange(true))
            {
                out_.message("interrupted again: quitting without waiting for calls in flight");
                std::_Exit(exit_interrupted);
            }
            out_.message(std::string(signo == SIGINT ? "SIGINT" : "SIGTERM") +
                         ": taking no more lines; finishing or cancelling calls in flight and "
                         "writing their results; signal again to quit at once");
            start_watchdog();
            // The cancellation signal belongs to the I/O thread.
            asio::post(io_, [this] { cancel_.emit(asio::cancellation_type::terminal); });
        }
    }

    // A thread of its own, so that it fires even if the I/O thread is stuck.
    void start_watchdog()
    {
        watchdog_ = std::thread([this] {
            std::unique_lock lock(watchdog_mutex_);
            if (!watchdog_wake_.wait_for(lock, hard_limit_, [this] { return over_; }))
            {
                static constexpr std::string_view text =
                    "stackone-notes: calls in flight did not end in time: quitting; the "
                    "journal has them as in flight (--resume marks them unknown)\n";
                [[maybe_unused]] auto n = ::write(STDERR_FILENO, text.data(), text.size());
                std::_Exit(exit_interrupted);
            }
        });
    }

    asio::io_context& io_;
    asio::cancellation_signal cancel_;
    cli::console& out_;
    std::chrono::milliseconds hard_limit_;
    std::atomic<bool> interrupted_{false};
    ::sigset_t signals_{};
    ::sigset_t old_mask_{};
    std::thread listener_;

    std::thread watchdog_;
    std::mutex watchdog_mutex_;
    std::condition_variable watchdog_wake_;
    bool over_ = false;
};

template <class T>
struct run_outcome
{
    T value{};
    std::exception_ptr failure;
    bool interrupted = false;
    stackone::pool_stats stats; // the client's counters when the work completed
};

/**
 * Runs @p work on @p io until it completes, cancelling it on a signal.
 *
 * When the work is done the client is destroyed, which closes its idle connections: they are
 * watched for a server close and would otherwise keep io.run() from returning.
 */
template <class T>
run_outcome<T> run_interruptible(asio::io_context& io,
                                 std::optional<stackone::client>& client,
                                 asio::awaitable<T> work,
                                 cli::console& out,
                                 std::chrono::milliseconds hard_limit = std::chrono::seconds(10))
{
    run_outcome<T> outcome;
    interrupter signals(io, out, hard_limit);

    auto on_done = [&](std::exception_ptr failure, T value) {
        outcome.failure = failure;
        outcome.value = std::move(value);
        outcome.stats = client->stats();

        // Posted, so the client is not destroyed from inside a completion it delivered.
        asio::post(io, [&client] { client.reset(); });
    };
    asio::co_spawn(io, std::move(work), asio::bind_cancellation_slot(signals.slot(), on_done));

    io.run();
    outcome.interrupted = signals.interrupted();
    return outcome;
}

// --- shared setup -------------------------------------------------------------------------

bool is_loopback_host(std::string_view host)
{
    return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

// The host of an http(s) URL, without user info and port.
std::string_view host_of(std::string_view url)
{
    auto start = url.find("://");
    url.remove_prefix(start == std::string_view::npos ? 0 : start + 3);
    url = url.substr(0, url.find_first_of("/?#"));
    if (auto at = url.rfind('@'); at != std::string_view::npos)
    {
        url.remove_prefix(at + 1);
    }
    if (url.starts_with('['))
    {
        return url.substr(0, url.find(']') + 1);
    }
    return url.substr(0, url.find(':'));
}

// Says loudly what the chosen transport exposes: the key travels in every request. Called once
// the client exists, so a usage error is not preceded by warnings about a URL it refuses.
void warn_about_transport(bool insecure, std::string url, cli::console& out)
{
    if (insecure)
    {
        out.message("WARNING: --insecure: TLS certificates and host names are NOT checked. "
                    "Anyone on the network path can read the API key and forge answers. Use it "
                    "only for local experiments.");
    }
    std::transform(url.begin(), url.end(), url.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    bool plain_http = url.starts_with("http://");
    if (plain_http && !is_loopback_host(host_of(url)))
    {
        out.message("warning: --base-url is plain http://: the API key crosses the network "
                    "unencrypted");
    }
}

// Builds the client; what it refuses is a usage error, since nothing has been sent yet.
std::optional<stackone::client> make_client(asio::io_context& io, stackone::client_options opts)
{
    const auto ca_file = opts.tls.ca_file;
    std::optional<stackone::client> client;
    try
    {
        client.emplace(io, std::move(opts));
    }
    catch (const stackone::error& e)
    {
        if (e.code() == stackone::errc::invalid_base_url)
        {
            throw cli::usage_error("--base-url (or STACKONE_BASE_URL): " + e.diag().detail);
        }
        throw cli::usage_error(e.what());
    }
    catch (const boost::system::system_error& e)
    {
        // Loading the CA file is the one TLS set-up step that depends on the command line.
        if (!ca_file.empty())
        {
            throw cli::usage_error("--ca-file: cannot load '" + ca_file + "': " + e.what());
        }
        throw;
    }
    catch (const std::system_error& e)
    {
        if (!ca_file.empty())
        {
            throw cli::usage_error("--ca-file: cannot load '" + ca_file + "': " + e.what());
        }
        throw;
    }
    return client;
}

// --- create -------------------------------------------------------------------------------

stackone::import_item make_create_item(const cli::create_args& args)
{
    // Line 0: the result has the same shape as an import result line.
    stackone::import_item item;
    item.line = 0;
    item.candidate_id = args.candidate_id;
    item.body = stackone::note::from_text(args.body);
    if (args.author_id)
    {
        item.body.author_id = *args.author_id;
    }
    if (args.visibility)
    {
        // Any string: the enum is open, and the provider may know values the spec does not.
        stackone::note_visibility visibility;
        visibility.value = stackone::visibility_value(*args.visibility);
        item.body.visibility = std::move(visibility);
    }
    return item;
}

int run_create(const cli::common_args& common, const cli::create_args& args)
{
    cli::console out(false);

    // Everything is checked before the client exists, so a usage error sends nothing.
    cli::check_create_args(args);
    auto opts = cli::make_client_options(common, cli::make_logger(out));
    auto item = make_create_item(args);
    const bool insecure = opts.tls.insecure_skip_verify;
    const auto base_url = opts.base_url;

    // One call on one thread; the account id is the client's.
    asio::io_context io{1};
    auto client = make_client(io, std::move(opts));
    warn_about_transport(insecure, base_url, out);
    auto call = client->async_create_candidate_note(
        item.candidate_id, item.body, {}, asio::as_tuple(asio::use_awaitable));
    auto run = run_interruptible(io, client, std::move(call), out);
    if (run.failure)
    {
        std::rethrow_exception(run.failure);
    }

    // The result goes to stdout whatever the outcome: it says whether the note may exist.
    const auto& [ec, result] = run.value;
    auto record = stackone::make_import_record(item, ec, result);
    std::cout << stackone::to_json_line(record) << std::flush;
    if (!std::cout)
    {
        // SIGPIPE is ignored: a closed or full stdout is reported, not a silent success.
        out.message(ec ? "error: the result could not be written to stdout"
                       : "error: the note was created, but its result (with its id) could not "
                         "be written to stdout");
        return exit_not_all_created;
    }
    if (!ec)
    {
        return exit_all_created;
    }

    auto why = record.error.empty() ? ec.message() : record.error;
    out.message(std::string(run.interrupted ? "create interrupted: " : "create failed: ") + why);
    return run.interrupted ? exit_interrupted : exit_not_all_created;
}

// --- import -------------------------------------------------------------------------------

/**
 * The input as a file descriptor: stdin, or FILE opened here (and closed by the destructor).
 * The importer reads it with poll(2) on a thread of its own, so a pipe that stalls holds up
 * neither the calls in flight nor a stop.
 */
class import_input
{
public:
    import_input() = default;
    explicit import_input(int owned_fd) : fd_(owned_fd), owned_(true) {}
    import_input(import_input&& other) noexcept
        : total(other.total), fd_(other.fd_), owned_(std::exchange(other.owned_, false))
    {}
    import_input& operator=(import_input&&) = delete;
    ~import_input()
    {
        if (owned_)
        {
            ::close(fd_);
        }
    }

    int fd() const noexcept { return fd_; }

    std::optional<std::size_t> total; // lines to import, when the input could be counted

private:
    int fd_ = STDIN_FILENO;
    bool owned_ = false;
};

struct import_output
{
    bool to_stdout = false;
    std::string label; // for the summary: the path, or "(stdout)"
    std::ofstream file;

    std::ostream& stream() { return to_stdout ? static_cast<std::ostream&>(std::cout) : file; }
};

struct input_scan
{
    std::optional<std::size_t> lines; // for the progress total
    std::string id;                   // "sha256:HEX", what a journal is checked against
};

/**
 * Counts the lines of a regular file and hashes it, in one streaming pass. Counts as
 * run_import does: blank lines too, and a last line without '\n'. A pipe or FIFO would be
 * drained by reading, so those give nothing, as do read errors.
 */
input_scan scan_input(const std::string& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
    {
        return {};
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!f || !sha || EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1)
    {
        return {};
    }

    std::vector<char> block(1 << 20);
    std::size_t lines = 0;
    char last = '\n';
    while (auto n = std::fread(block.data(), 1, block.size(), f.get()))
    {
        lines += static_cast<std::size_t>(std::count(block.data(), block.data() + n, '\n'));
        last = block[n - 1];
        EVP_DigestUpdate(sha.get(), block.data(), n);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (std::ferror(f.get()) || EVP_DigestFinal_ex(sha.get(), digest, &digest_size) != 1)
    {
        return {};
    }

    input_scan scan;
    scan.lines = lines + (last != '\n' ? 1 : 0);
    scan.id = "sha256:";
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < digest_size; ++i)
    {
        scan.id += hex[digest[i] >> 4];
        scan.id += hex[digest[i] & 15];
    }
    return scan;
}

import_input open_input(const std::string& path)
{
    if (path == "-")
    {
        return import_input();
    }

    // A directory opens fine on Linux and fails only on the first read: refuse it up front.
    std::error_code ec;
    if (fs::is_directory(path, ec))
    {
        throw cli::usage_error("FILE: '" + path + "' is a directory");
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
        throw cli::usage_error("FILE: cannot read '" + path + "': " + std::strerror(errno));
    }
    return import_input(fd);
}

// Where results go: the --output path, or FILE.results.jsonl beside the input; empty for
// stdout (`--output -`, or stdin input without --output).
std::string results_path(const cli::import_args& args)
{
    if (args.output)
    {
        return *args.output == "-" ? std::string() : *args.output;
    }
    if (args.input == "-")
    {
        return {};
    }
    return fs::path(args.input).replace_extension(".results.jsonl").string();
}

/**
 * Refuses a results path that would lose data: an existing file (it may be the only record of
 * which notes an earlier run created) unless --overwrite, and the input itself always.
 */
void check_results_path(const std::string& path, const cli::import_args& args)
{
    if (path.empty())
    {
        return;
    }
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (fs::is_directory(status))
    {
        throw cli::usage_error("--output: '" + path + "' is a directory");
    }
    if (fs::exists(status))
    {
        if (args.input != "-" && fs::equivalent(path, args.input, ec))
        {
            throw cli::usage_error("--output: '" + path + "' is the input file");
        }
        if (!args.overwrite)
        {
            throw cli::usage_error("--output: '" + path +
                                   "' exists (results of an earlier run?); move it away, choose "
                                   "another --output, or pass --overwrite");
        }
    }
    auto parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
    {
        throw cli::usage_error("--output: directory '" + parent.string() + "' does not exist");
    }
}

import_output open_output(const std::string& path, bool append)
{
    import_output out;
    if (path.empty())
    {
        out.to_stdout = true;
        out.label = "(stdout)";
        return out;
    }
    out.label = path;
    out.file.open(path, std::ios::out | (append ? std::ios::app : std::ios::trunc));
    if (!out.file)
    {
        throw cli::usage_error("--output: cannot write '" + path + "'");
    }
    return out;
}

// The journal: --journal, or the results path with the extension .journal; none for stdout.
std::string journal_path(const cli::import_args& args, const std::string& results)
{
    if (args.journal)
    {
        return *args.journal;
    }
    if (results.empty())
    {
        return {};
    }
    auto path = fs::path(results).replace_extension(".journal");
    return path == fs::path(results) ? results + ".journal" : path.string();
}

/**
 * The checks of the journal's path that need no file contents: not the input or the results,
 * and an existing journal only with --resume (continue it) or --overwrite (start over).
 */
void check_journal_args(const cli::import_args& args,
                        const std::string& results,
                        const std::string& journal)
{
    // A journal the user did not name is named after the results file: say so, not "--journal".
    const auto journal_error = [&](const std::string& what) {
        return cli::usage_error(args.journal
                                    ? "--journal: '" + journal + "' " + what
                                    : "journal '" + journal + "' (named after the results file) " +
                                          what + ": choose another with --journal FILE");
    };
    if (args.resume && args.overwrite)
    {
        throw cli::usage_error("--resume and --overwrite exclude each other: --resume appends "
                               "to the results, --overwrite starts over");
    }
    if (args.journal && args.journal->empty())
    {
        throw cli::usage_error("--journal: must not be empty");
    }
    std::error_code ec;
    if (!journal.empty())
    {
        if (fs::is_directory(journal, ec))
        {
            throw journal_error("is a directory");
        }
        if ((args.input != "-" && fs::equivalent(journal, args.input, ec)) ||
            (!results.empty() && fs::path(journal) == fs::path(results)))
        {
            throw journal_error("is the input or results file");
        }
    }
    if (!args.resume)
    {
        if (!journal.empty() && fs::exists(journal, ec) && !args.overwrite)
        {
            throw cli::usage_error("journal '" + journal +
                                   "' exists (an interrupted run?): pass --resume to continue "
                                   "it, or --overwrite to start over");
        }
        return;
    }

    // --resume: the same input again, a journal to read and a results file to append to.
    if (args.input == "-")
    {
        throw cli::usage_error("--resume needs the input as a FILE: stdin cannot be checked to "
                               "be the input of the journal");
    }
    if (results.empty())
    {
        throw cli::usage_error("--resume appends to a results file: give --output FILE (not "
                               "stdout)");
    }
    if (journal.empty() || !fs::exists(journal, ec))
    {
        throw cli::usage_error("--resume: no journal '" + journal +
                               "' (give --journal FILE if it is elsewhere)");
    }
}

// Opens or creates the journal; what it refuses is a usage error, since nothing was sent.
std::optional<stackone::import_journal>
open_journal(const cli::import_args& args, const std::string& path, const std::string& input_id)
{
    if (path.empty())
    {
        return std::nullopt;
    }
    auto journal = args.resume ? stackone::import_journal::open(path, input_id)
                               : stackone::import_journal::create(path, input_id, args.overwrite);
    if (!journal)
    {
        const char* who = args.resume ? "--resume: " : args.journal ? "--journal: " : "";
        throw cli::usage_error(
            who + journal.error().what +
            (args.resume || args.journal
                 ? ""
                 : " (named after the results file; choose another with --journal FILE)"));
    }
    return std::move(*journal);
}

int run_import_command(const cli::common_args& common, const cli::import_args& args)
{
    // A status line redrawn in place only on a terminal, and not when results are printed on
    // that same terminal, where the two would garble each other.
    const auto output_path = results_path(args);
    const auto journal_file = journal_path(args, output_path);
    const bool results_on_tty = output_path.empty() && ::isatty(STDOUT_FILENO);
    cli::console out(::isatty(STDERR_FILENO) && !results_on_tty);

    // Everything is checked before the client exists, so a usage error sends nothing.
    auto opts = cli::make_client_options(common, cli::make_logger(out));
    auto input = open_input(args.input);
    if (!args.resume)
    {
        check_results_path(output_path, args);
    }
    else if (auto parent = fs::path(output_path).parent_path();
             !parent.empty() && !fs::is_directory(parent))
    {
        throw cli::usage_error("--output: directory '" + parent.string() + "' does not exist");
    }
    check_journal_args(args, output_path, journal_file);
    const auto grace = cli::seconds_of("--stop-grace", args.stop_grace);
    const bool insecure = opts.tls.insecure_skip_verify;
    const auto base_url = opts.base_url;

    // The journal names the input by its hash; a resume checks it before anything is sent.
    asio::io_context io{1};
    auto client = make_client(io, std::move(opts));
    auto scan = args.input == "-" ? input_scan{} : scan_input(args.input);
    if (args.resume && scan.id.empty())
    {
        throw cli::usage_error("--resume: cannot read '" + args.input + "' to check it");
    }
    input.total = scan.lines;
    auto journal = open_journal(args, journal_file, scan.id.empty() ? "stdin" : scan.id);

    // On resume the results file first gets what the journal has and it lacks (a crash between
    // the two writes), and a torn last line is cut; then it is appended to.
    if (args.resume)
    {
        auto synced = stackone::sync_results_file(*journal, output_path);
        if (!synced)
        {
            throw cli::usage_error("--resume: " + synced.error().what);
        }
        out.message("resuming: " + std::to_string(journal->results()) + " lines have results (" +
                    std::to_string(*synced) + " copied from the journal), " +
                    std::to_string(journal->in_flight().size()) + " were in flight" +
                    (args.resend_unknown ? " and are sent again" : " and become unknown"));
    }

    // The results file is created only once the client is built, so a bad option leaves no
    // empty file behind to block the next run.
    warn_about_transport(insecure, base_url, out);
    auto output = open_output(output_path, args.resume);

    cli::progress_reporter progress(out, input.total, std::chrono::seconds(5));
    stackone::import_options import_opts;
    import_opts.concurrency = args.concurrency;
    import_opts.progress_interval =
        out.status_in_place() ? std::chrono::milliseconds(250) : std::chrono::milliseconds(1000);
    import_opts.on_progress = [&progress](const stackone::import_summary& s) {
        progress.report(s);
    };
    import_opts.journal = journal ? &*journal : nullptr;
    import_opts.resend_unknown = args.resend_unknown;
    import_opts.cancel_grace = grace;

    auto work = stackone::run_import(*client, input.fd(), output.stream(), import_opts);
    auto run =
        run_interruptible(io, client, std::move(work), out, grace + std::chrono::seconds(10));
    progress.finish();
    if (run.failure)
    {
        std::rethrow_exception(run.failure);
    }

    // Results were flushed line by line; a failed write (a full disk, a closed pipe) stopped
    // the import, and is reported, not hidden. With a journal, --resume continues it (below).
    output.stream().flush();
    bool results_written = static_cast<bool>(output.stream());
    if (!results_written)
    {
        out.message("error: could not write all results to " + output.label +
                    "; the import stopped");
    }
    else if (!run.value.error.empty())
    {
        out.message("error: " + run.value.error + "; the import stopped");
    }

    out.line(cli::format_summary(run.value, output.label, run.interrupted));
    out.line(cli::format_client_stats(run.stats));
    if (journal && (run.interrupted || !run.value.finished || !results_written))
    {
        out.message("to continue: the same command with --resume (journal " + journal->path() +
                    ")");
    }
    if (run.interrupted)
    {
        return exit_interrupted;
    }
    return results_written && run.value.all_created() ? exit_all_created : exit_not_all_created;
}

// --- main ---------------------------------------------------------------------------------

void print_error(std::string_view kind, std::string_view text)
{
    std::string line(cli::program_name);
    line.append(": ").append(kind).append(": ").append(text).push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
}

int usage_failure(std::string_view text, std::string_view command)
{
    print_error("usage error", text);
    std::string hint = "Run '" + std::string(cli::program_name);
    if (!command.empty())
    {
        hint.append(" ").append(command);
    }
    hint += " --help' for the options.\n";
    std::fwrite(hint.data(), 1, hint.size(), stderr);
    return exit_usage;
}

constexpr std::string_view no_api_key_option =
    "there is no --api-key option (keys on command lines leak into `ps` and shell history): set "
    "STACKONE_API_KEY or pass --api-key-file FILE";

// True when the command line tries to pass the key itself (`--api-key KEY`, `--api-key=KEY`).
bool has_api_key_argument(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
    {
        std::string_view arg = argv[i];
        if (arg == "--api-key" || arg.starts_with("--api-key="))
        {
            return true;
        }
    }
    return false;
}

} // namespace

int main(int argc, char** argv)
{
    // A closed results pipe (`| head`) is a failed write that stops the import with a message,
    // not a silent death. (The library's own sockets never raise SIGPIPE.)
    std::signal(SIGPIPE, SIG_IGN);

    // stdout is used through std::cout only; unsyncing makes writing results faster.
    std::ios::sync_with_stdio(false);

    // Each subcommand has its own common_args: CLI11 also reads environment defaults into the
    // subcommand not chosen, which would overwrite a shared variable after the command line.
    cli::common_args create_common;
    cli::common_args import_common;
    cli::create_args create;
    cli::import_args import;

    // The command line: two subcommands with the same connection options.
    CLI::App app{"Creates candidate notes in StackOne (POST /unified/ats/candidates/{id}/notes).",
                 std::string(cli::program_name)};
    app.set_version_flag("--version",
                         std::string(cli::program_name) + " " + STACKONE_NOTES_VERSION);
    app.require_subcommand(1);
    app.footer(std::string(environment_help));

    auto* create_cmd =
        app.add_subcommand("create", "Create one note; print its result as one JSON object");
    cli::add_create_options(*create_cmd, create);
    cli::add_common_options(*create_cmd, create_common);
    create_cmd->footer(std::string(environment_help));

    auto* import_cmd = app.add_subcommand("import", "Create a note for every line of a JSONL file");
    cli::add_import_options(*import_cmd, import);
    cli::add_common_options(*import_cmd, import_common);
    import_cmd->footer(std::string(import_help) + "\n" + std::string(environment_help));

    try
    {
        app.parse(argc, argv);
    }
    catch (const CLI::ParseError& e)
    {
        // --help and --version are "errors" with status 0.
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success))
        {
            return app.exit(e);
        }
        auto chosen = app.get_subcommands();
        std::string command = chosen.empty() ? std::string() : chosen.front()->get_name();

        // CLI11 would quote the unexpected arguments, which here would be the key itself.
        if (has_api_key_argument(argc, argv))
        {
            return usage_failure(no_api_key_option, command);
        }

        // CLI11 would only say that a subcommand is required, not what was typed instead.
        if (chosen.empty() && argc > 1 && argv[1][0] != '-')
        {
            return usage_failure("unknown subcommand '" + std::string(argv[1]) +
                                     "' (expected create or import)",
                                 command);
        }
        return usage_failure(e.what(), command);
    }

    try
    {
        if (*create_cmd)
        {
            return run_create(create_common, create);
        }
        return run_import_command(import_common, import);
    }
    catch (const cli::usage_error& e)
    {
        return usage_failure(e.what(), *create_cmd ? "create" : "import");
    }
    catch (const std::exception& e)
    {
        print_error("error", e.what());
        return exit_not_all_created;
    }
}
