// One client shared by the threads of a multi-threaded io_context (client_options::thread_safe):
// 2,000 creates from callers that resume on any of 8 threads, over a pool of 4 TLS connections
// to the mock. Every caller must get the answer to its own request. scripts/test also runs this
// program built with -fsanitize=thread (build-tsan/), where any data race fails it.
#define BOOST_TEST_MODULE stackone_thread_safety
#include "fixture.hpp"

#include <stackone/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace stackone;
using namespace stackone::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr int io_threads = 8;
constexpr int callers = 40;
constexpr int creates_per_caller = 50; // 2,000 in all
constexpr std::size_t pool_size = 4;

// What one create saw; written by its caller only, read after the threads have joined.
struct call_record
{
    std::string candidate_id;
    std::string body;
    error_code ec;
    int status = 0;
    std::string note_id;
    std::string error_text; // an exception that escaped, if any
};

std::string candidate_of(int caller, int i)
{
    return "cand-" + std::to_string(caller) + "-" + std::to_string(i);
}

// One caller: creates its notes one after another. Between two creates it may resume on any
// thread of the io_context, so calls reach the client from all of them.
asio::awaitable<void> caller(client& c, int index, std::vector<call_record>& records)
{
    for (int i = 0; i < creates_per_caller; ++i)
    {
        call_record& rec = records[static_cast<std::size_t>(index * creates_per_caller + i)];
        rec.candidate_id = candidate_of(index, i);
        rec.body = "Note " + std::to_string(i) + " for " + rec.candidate_id;
        // Named arguments and no structured binding: g++ 12 mishandles temporaries and
        // bindings in a co_await expression.
        const note n = note::from_text(rec.body);
        const call_options none;
        std::tuple<error_code, create_result> outcome = co_await c.async_create_candidate_note(
            rec.candidate_id, n, none, asio::as_tuple(asio::use_awaitable));
        rec.ec = std::get<0>(outcome);
        rec.status = std::get<1>(outcome).status;
        rec.note_id = std::get<1>(outcome).id.value_or("");
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(thread_safety)

BOOST_AUTO_TEST_CASE(shared_client_on_eight_threads_gives_every_caller_its_own_response)
{
    mock_fixture f(mock_setup{.tls = true});
    auto opts = f.client_opts();
    opts.thread_safe = true;
    opts.pool.max_connections = pool_size;

    asio::io_context io(io_threads);
    std::vector<call_record> records(callers * creates_per_caller);
    std::vector<std::string> escaped(callers);
    std::atomic<int> finished{0};
    {
        client c(io, opts);
        auto work = asio::make_work_guard(io);
        for (int k = 0; k < callers; ++k)
        {
            asio::co_spawn(io, caller(c, k, records), [&, k](std::exception_ptr e) {
                if (e)
                {
                    try
                    {
                        std::rethrow_exception(e);
                    }
                    catch (const std::exception& ex)
                    {
                        escaped[static_cast<std::size_t>(k)] = ex.what();
                    }
                }
                // The last caller shuts the client down (from whichever thread it is on), and
                // then lets the io_context run out.
                if (finished.fetch_add(1) + 1 == callers)
                    c.async_shutdown(1s, [&](error_code) { work.reset(); });
            });
        }

        std::vector<std::thread> threads;
        for (int t = 0; t < io_threads; ++t)
            threads.emplace_back([&io] { io.run(); });
        for (auto& t : threads)
            t.join();

        // At most the pool's connections were opened, and they were reused for the rest.
        const pool_stats stats = c.stats();
        BOOST_TEST(stats.connections_opened >= 1u);
        BOOST_TEST(stats.connections_opened <= pool_size);
        BOOST_TEST(stats.connections_reused >= records.size() - pool_size);
        BOOST_TEST(stats.retries == 0u);
    }
    BOOST_TEST(finished.load() == callers);
    for (const auto& e : escaped)
        BOOST_TEST(e.empty(), e);
    BOOST_TEST(f.server.get_stats().connections_accepted <= pool_size);

    // Every call succeeded, and the note id it received is the one the mock recorded for
    // that very request: same candidate, same body.
    std::map<std::string, mock::ledger_entry> by_id;
    for (auto& entry : f.server.ledger())
        by_id.emplace(entry.id, std::move(entry));
    BOOST_TEST(by_id.size() == records.size());
    std::size_t matched = 0;
    for (const auto& rec : records)
    {
        BOOST_TEST_CONTEXT(rec.candidate_id)
        {
            BOOST_TEST(!rec.ec, rec.ec.message());
            BOOST_TEST(rec.status == 201);
            const auto it = by_id.find(rec.note_id);
            BOOST_TEST_REQUIRE((it != by_id.end()), "no ledger entry with id " << rec.note_id);
            BOOST_TEST(it->second.candidate_id == rec.candidate_id);
            BOOST_TEST(it->second.note.at("content").at(0).at("body").as_string() == rec.body);
            matched += it->second.candidate_id == rec.candidate_id;
        }
    }
    BOOST_TEST(matched == records.size());
}

BOOST_AUTO_TEST_SUITE_END()
