// The importer's input machinery without the importer: the line splitter, the bounded queue
// between the reader thread and the executor, the readers' stop, and a closed queue.
#include <stackone/impl/internal/line_reader.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <istream>
#include <memory>
#include <mutex>
#include <streambuf>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using namespace stackone::detail;
namespace asio = boost::asio;

namespace {

// Serves its text, then holds the next read until released, then ends: a read that blocks.
class held_buffer : public std::streambuf
{
public:
    explicit held_buffer(std::string text) : text_(std::move(text))
    {
        setg(text_.data(), text_.data(), text_.data() + text_.size());
    }

    void release()
    {
        {
            std::lock_guard lock(mutex_);
            released_ = true;
        }
        wake_.notify_all();
    }

protected:
    int_type underflow() override
    {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return released_; });
        return traits_type::eof();
    }

private:
    std::string text_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool released_ = false;
};

std::vector<input_line>
split_in_pieces(const std::string& bytes, std::size_t piece, std::size_t max_line)
{
    line_splitter split(max_line);
    std::vector<input_line> lines;
    for (std::size_t i = 0; i < bytes.size(); i += piece)
        split.feed(bytes.data() + i, std::min(piece, bytes.size() - i), lines);
    split.finish(lines);
    return lines;
}

// A timer that only a queue's wake-up ends, as the import's is.
asio::steady_timer idle_timer(asio::io_context& io)
{
    return asio::steady_timer(io, std::chrono::steady_clock::time_point::max());
}

// A queue of at most @p lines lines (and 1 MiB) that wakes @p wake; with @p pipe, its wake pipe
// too (for the descriptor reader).
std::shared_ptr<line_queue>
open_queue(asio::io_context& io, asio::steady_timer& wake, std::size_t lines, bool pipe)
{
    auto queue = std::make_shared<line_queue>(lines, 1 << 20);
    queue->open(io.get_executor(), wake, pipe);
    return queue;
}

} // namespace

BOOST_AUTO_TEST_SUITE(input_lines)

BOOST_AUTO_TEST_CASE(lines_are_the_same_however_the_bytes_arrive)
{
    // CRLF, blank lines, a line of exactly the limit, one byte over, a '\r' that is the
    // limit's byte + 1, and a last line without '\n'.
    const std::string bytes = "one\r\n\n\r\n" + std::string(8, 'a') + "\n" + std::string(9, 'b') +
                              "\n" + std::string(8, 'c') + "\r\nlast";
    for (std::size_t piece : {1, 2, 3, 7, 64})
    {
        BOOST_TEST_CONTEXT("pieces of " << piece)
        {
            const auto lines = split_in_pieces(bytes, piece, 8);
            BOOST_TEST_REQUIRE(lines.size() == 7u);
            for (std::size_t i = 0; i < lines.size(); ++i)
                BOOST_TEST(lines[i].number == i + 1);
            BOOST_TEST(lines[0].text == "one");
            BOOST_TEST(lines[1].text == "");
            BOOST_TEST(lines[2].text == "");
            BOOST_TEST(lines[3].text == std::string(8, 'a'));
            BOOST_TEST(!lines[3].too_long);
            BOOST_TEST(lines[4].too_long);
            BOOST_TEST(lines[4].text.empty());
            // The '\r' counts against the limit before it is dropped, as it always has.
            BOOST_TEST(lines[5].too_long);
            BOOST_TEST(lines[6].text == "last");
        }
    }
    BOOST_TEST(split_in_pieces("", 1, 8).empty());
    BOOST_TEST(split_in_pieces("\n", 1, 8).size() == 1u);
    BOOST_TEST(split_in_pieces("x\n", 1, 0).at(0).too_long);
}

BOOST_AUTO_TEST_CASE(the_queue_holds_at_most_its_bound_and_the_reader_waits)
{
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    asio::steady_timer wake = idle_timer(io);
    auto queue = open_queue(io, wake, 3, false);

    bool pushed = false; // Boost.Test checks stay on the test's thread
    std::thread reader([queue, &pushed] {
        line_splitter split(100);
        std::vector<input_line> batch;
        std::string bytes;
        for (int i = 0; i < 20; ++i)
            bytes += "line " + std::to_string(i) + "\n";
        split.feed(bytes.data(), bytes.size(), batch);
        pushed = queue->push(batch);
        queue->finish("");
    });

    // Every take gets at most three lines, in order; an empty queue is waited for through a
    // wake-up posted to the executor.
    std::deque<input_line> taken;
    std::size_t next = 1;
    for (;;)
    {
        const auto status = queue->take(taken);
        if (status == line_queue::take_status::ended)
            break;
        if (status == line_queue::take_status::empty)
        {
            io.run_one();
            continue;
        }
        BOOST_TEST(taken.size() <= 3u);
        for (const auto& l : taken)
            BOOST_TEST(l.number == next++);
        taken.clear();
    }
    reader.join();
    BOOST_TEST(pushed);
    BOOST_TEST(next == 21u);
    BOOST_TEST(queue->error().empty());
    queue->close();
}

BOOST_AUTO_TEST_CASE(a_stop_ends_a_reader_waiting_for_room_or_for_a_silent_pipe)
{
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    asio::steady_timer wake = idle_timer(io);

    // Waiting for room: the queue holds one line, the reader has two.
    auto full = open_queue(io, wake, 1, false);
    bool pushed_all = true;
    std::thread pusher([full, &pushed_all] {
        std::vector<input_line> batch(2);
        pushed_all = full->push(batch);
        full->finish("");
    });

    // A pipe that stays open and silent: the descriptor reader sits in poll(2).
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    BOOST_TEST_REQUIRE(::write(fds[1], "a\nb", 3) == 3);
    auto silent = open_queue(io, wake, 100, true);
    std::thread reader(read_descriptor, silent, fds[0], 100);

    // The first line arrives; "b" is held until its '\n', which never comes.
    std::deque<input_line> taken;
    while (taken.empty())
    {
        if (silent->take(taken) == line_queue::take_status::empty)
            io.run_one();
    }
    BOOST_TEST(taken.size() == 1u);
    BOOST_TEST(taken.front().text == "a");
    BOOST_TEST(!silent->reader_finished());

    // A stop ends both readers; join() would hang otherwise.
    full->stop();
    silent->stop();
    pusher.join();
    reader.join();
    BOOST_TEST(!pushed_all);
    BOOST_TEST(full->reader_finished());
    BOOST_TEST(silent->reader_finished());
    BOOST_TEST(silent->error().empty());
    full->close();
    silent->close();
    ::close(fds[0]);
    ::close(fds[1]);
}

BOOST_AUTO_TEST_CASE(a_read_error_is_reported)
{
    asio::io_context io;
    asio::steady_timer wake = idle_timer(io);
    auto queue = open_queue(io, wake, 10, true);

    // A directory: poll(2) says readable, read(2) fails with EISDIR.
    const int fd = ::open("/", O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    read_descriptor(queue, fd, 100);
    BOOST_TEST(queue->reader_finished());
    BOOST_TEST(queue->error().find("cannot read input: ") == 0u, queue->error());
    queue->close();
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_reader_ending_after_the_queue_closed_posts_nothing)
{
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    asio::steady_timer wake = idle_timer(io);
    auto queue = open_queue(io, wake, 10, false);
    held_buffer buffer("a\n");
    std::istream in(&buffer);
    std::thread reader(read_stream, queue, std::ref(in), 100);

    // The line comes; then the executor waits for more while the reader's next read blocks.
    std::deque<input_line> taken;
    while (taken.empty())
    {
        if (queue->take(taken) == line_queue::take_status::empty)
            io.run_one();
    }
    BOOST_TEST(taken.front().text == "a");
    BOOST_TEST((queue->take(taken) == line_queue::take_status::empty));

    // The import is over before the read returns: the reader's end must not reach the
    // executor (for a reader left running, it may be gone by then).
    queue->stop();
    queue->close();
    buffer.release();
    reader.join();
    BOOST_TEST(queue->reader_finished());
    BOOST_TEST(io.poll() == 0u, "the reader posted to the executor after close()");
}

BOOST_AUTO_TEST_SUITE_END()
