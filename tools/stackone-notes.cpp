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
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

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
    "created: check before sending it again). Progress and the summary go to stderr; SIGINT or\n"
    "SIGTERM cancels the calls in flight, writes their results and exits with 130.\n";

// --- running one piece of work -------------------------------------------------------------

/**
 * Turns the first SIGINT or SIGTERM into terminal cancellation of the work, so the calls in
 * flight end at once and their results are still written. A second signal quits without
 * waiting.
 */
class interrupter
{
public:
    interrupter(asio::io_context& io, cli::console& out) : signals_(io, SIGINT, SIGTERM), out_(out)
    {
        wait();
    }

    /// The slot to bind to the work's completion token.
    asio::cancellation_slot slot() { return cancel_.slot(); }

    /// True once a signal arrived.
    bool interrupted() const noexcept { return interrupted_; }

    /// Stops listening, so io_context::run() can return, and restores the default handlers.
    void stop()
    {
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        signals_.clear(ignored);
    }

private:
    void wait()
    {
        signals_.async_wait(
            [this](const boost::system::error_code& ec, int signo) { on_signal(ec, signo); });
    }

    void on_signal(const boost::system::error_code& ec, int signo)
    {
        // Cancelled by stop(): the work is over.
        if (ec)
        {
            return;
        }

        // The user does not want to wait for the calls in flight: results may be missing.
        if (interrupted_)
        {
            out_.message("interrupted again: quitting without waiting for calls in flight");
            std::_Exit(exit_interrupted);
        }

        interrupted_ = true;
        out_.message(std::string(signo == SIGINT ? "SIGINT" : "SIGTERM") +
                     ": cancelling calls in flight and writing their results; signal again to "
                     "quit at once");
        cancel_.emit(asio::cancellation_type::terminal);
        wait();
    }

    asio::signal_set signals_;
    asio::cancellation_signal cancel_;
    cli::console& out_;
    bool interrupted_ = false;
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
                                 cli::console& out)
{
    run_outcome<T> outcome;
    interrupter signals(io, out);

    auto on_done = [&](std::exception_ptr failure, T value) {
        outcome.failure = failure;
        outcome.value = std::move(value);
        outcome.stats = client->stats();
        signals.stop();

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
            throw cli::usage_error(std::string("--base-url (or STACKONE_BASE_URL): ") + e.what());
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
    if (!ec)
    {
        return exit_all_created;
    }

    auto why = record.error.empty() ? ec.message() : record.error;
    out.message(std::string(run.interrupted ? "create interrupted: " : "create failed: ") + why);
    return run.interrupted ? exit_interrupted : exit_not_all_created;
}

// --- import -------------------------------------------------------------------------------

struct import_input
{
    bool from_stdin = false;
    std::ifstream file;
    std::optional<std::size_t> total; // lines to import, when the input could be counted

    // Chosen on use, not stored as a pointer, which a move of this struct would leave dangling.
    std::istream& stream() { return from_stdin ? static_cast<std::istream&>(std::cin) : file; }
};

struct import_output
{
    bool to_stdout = false;
    std::string label; // for the summary: the path, or "(stdout)"
    std::ofstream file;

    std::ostream& stream() { return to_stdout ? static_cast<std::ostream&>(std::cout) : file; }
};

/**
 * Counts the lines of a regular file, streaming in blocks, for the progress total. Counts as
 * run_import does: blank lines too, and a last line without '\n'. A pipe or FIFO would be
 * drained by counting, so those give std::nullopt, as do read errors.
 */
std::optional<std::size_t> count_lines(const std::string& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
    {
        return std::nullopt;
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f)
    {
        return std::nullopt;
    }

    std::vector<char> block(1 << 20);
    std::size_t lines = 0;
    char last = '\n';
    while (auto n = std::fread(block.data(), 1, block.size(), f.get()))
    {
        lines += static_cast<std::size_t>(std::count(block.data(), block.data() + n, '\n'));
        last = block[n - 1];
    }
    if (std::ferror(f.get()))
    {
        return std::nullopt;
    }
    return lines + (last != '\n' ? 1 : 0);
}

import_input open_input(const std::string& path)
{
    import_input in;
    in.from_stdin = path == "-";
    if (!in.from_stdin)
    {
        cli::open_for_reading(in.file, "FILE", path);
    }
    return in;
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

import_output open_output(const std::string& path)
{
    import_output out;
    if (path.empty())
    {
        out.to_stdout = true;
        out.label = "(stdout)";
        return out;
    }
    out.label = path;
    out.file.open(path, std::ios::out | std::ios::trunc);
    if (!out.file)
    {
        throw cli::usage_error("--output: cannot write '" + path + "'");
    }
    return out;
}

int run_import_command(const cli::common_args& common, const cli::import_args& args)
{
    // A status line redrawn in place only on a terminal, and not when results are printed on
    // that same terminal, where the two would garble each other.
    const auto output_path = results_path(args);
    const bool results_on_tty = output_path.empty() && ::isatty(STDOUT_FILENO);
    cli::console out(::isatty(STDERR_FILENO) && !results_on_tty);

    // Everything is checked before the client exists, so a usage error sends nothing.
    auto opts = cli::make_client_options(common, cli::make_logger(out));
    auto input = open_input(args.input);
    check_results_path(output_path, args);
    const bool insecure = opts.tls.insecure_skip_verify;
    const auto base_url = opts.base_url;

    // The results file is created only once the client is built, so a bad option leaves no
    // empty file behind to block the next run.
    asio::io_context io{1};
    auto client = make_client(io, std::move(opts));
    warn_about_transport(insecure, base_url, out);
    auto output = open_output(output_path);
    input.total = args.input == "-" ? std::nullopt : count_lines(args.input);

    cli::progress_reporter progress(out, input.total, std::chrono::seconds(5));
    stackone::import_options import_opts;
    import_opts.concurrency = args.concurrency;
    import_opts.progress_interval =
        out.status_in_place() ? std::chrono::milliseconds(250) : std::chrono::milliseconds(1000);
    import_opts.on_progress = [&progress](const stackone::import_summary& s) {
        progress.report(s);
    };

    auto work = stackone::run_import(*client, input.stream(), output.stream(), import_opts);
    auto run = run_interruptible(io, client, std::move(work), out);
    progress.finish();
    if (run.failure)
    {
        std::rethrow_exception(run.failure);
    }

    // Results were flushed line by line; a failed write (disk full) is reported, not hidden.
    output.stream().flush();
    bool results_written = static_cast<bool>(output.stream());
    if (!results_written)
    {
        out.message("error: could not write all results to " + output.label);
    }

    out.line(cli::format_summary(run.value, output.label, run.interrupted));
    out.line(cli::format_client_stats(run.stats));
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
    // stdout is used through std::cout only; unsyncing makes reading stdin much faster.
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
