//
// The importer's input: read on a thread of its own, handed to the I/O executor line by line
// through a bounded queue, so the executor never blocks on input.
//
#ifndef STACKONE_IMPL_INTERNAL_LINE_READER_HPP
#define STACKONE_IMPL_INTERNAL_LINE_READER_HPP

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace stackone::detail {

// One input line as the reader hands it over.
struct input_line
{
    std::size_t number = 0; // 1-based
    bool too_long = false;  // over the limit: consumed whole, `text` left empty
    std::string text;       // without its '\n' and a '\r' before it
};

/**
 * Cuts bytes into lines as the importer always has: a line ends at '\n' and loses one '\r'
 * before it; a last line without '\n' counts too; a line over `max_line_bytes` is consumed
 * whole and marked too long, never split, and only its first `max_line_bytes` are ever held.
 */
class line_splitter
{
public:
    explicit line_splitter(std::size_t max_line_bytes) : max_(max_line_bytes) {}

    // Feeds @p n bytes; each line they complete is appended to @p out.
    void feed(const char* p, std::size_t n, std::vector<input_line>& out)
    {
        const char* const end = p + n;
        while (p != end)
        {
            const auto* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
            const char* stop = nl ? nl : end;
            take(p, static_cast<std::size_t>(stop - p));
            any_ = true;
            if (!nl)
                return;
            emit(out);
            p = nl + 1;
        }
    }

    // At the end of input: the last line, when bytes came after the last '\n'.
    void finish(std::vector<input_line>& out)
    {
        if (any_)
            emit(out);
    }

private:
    // Keeps what fits in the limit; a byte beyond it marks the line too long.
    void take(const char* p, std::size_t n)
    {
        if (too_long_)
            return;
        const std::size_t room = max_ - line_.size();
        if (n > room)
        {
            too_long_ = true;
            line_.clear();
            return;
        }
        line_.append(p, n);
    }

    void emit(std::vector<input_line>& out)
    {
        input_line l;
        l.number = next_number_++;
        l.too_long = too_long_;
        if (!too_long_)
        {
            if (!line_.empty() && line_.back() == '\r')
                line_.pop_back();
            l.text = std::move(line_);
        }
        out.push_back(std::move(l));
        line_ = std::string();
        too_long_ = false;
        any_ = false;
    }

    std::size_t max_;
    std::size_t next_number_ = 1;
    std::string line_;
    bool too_long_ = false;
    bool any_ = false; // a byte of the current line was seen ('\r' and an empty line count)
};

/**
 * The lines between the reader thread and the I/O executor.
 *
 * Bounded (`max_lines` lines or `max_bytes` of text, whichever comes first): a reader ahead of
 * the calls waits, so memory stays flat whatever the input's size. The reader wakes the
 * executor only when something waits there, by posting to it; once close() is called it never
 * touches the executor again, so a reader that outlives the import is harmless.
 *
 * Shared (std::shared_ptr) by the reader thread, the import and any wake-up still queued on
 * the executor. Thread-safe, except the members marked "executor only".
 */
class line_queue : public std::enable_shared_from_this<line_queue>
{
public:
    enum class take_status
    {
        lines, // lines were moved out
        empty, // none yet: wait for a wake-up of the timer given to open()
        ended, // none will come: end of input, a read error (error()) or a stop
    };

    line_queue(std::size_t max_lines, std::size_t max_bytes)
        : max_lines_(max_lines), max_bytes_(max_bytes)
    {}

    line_queue(const line_queue&) = delete;
    line_queue& operator=(const line_queue&) = delete;

    ~line_queue()
    {
        for (int fd : wake_pipe_)
            if (fd >= 0)
                ::close(fd);
    }

    // --- the executor side ---------------------------------------------------------------

    /**
     * Executor only, before the reader starts: wake-ups are posted to @p ex and cancel @p
     * wake. With @p wake_pipe a pipe is made whose read end wake_fd() becomes readable on
     * stop(), for a reader that waits in poll(2). Throws std::system_error when it cannot.
     */
    void open(const boost::asio::any_io_executor& ex, boost::asio::steady_timer& wake, bool pipe)
    {
        ex_ = ex;
        wake_ = &wake;
        if (pipe)
        {
            // Close-on-exec from the start: another thread's fork and exec cannot inherit it.
            if (::pipe2(wake_pipe_, O_CLOEXEC) != 0)
                throw std::system_error(errno, std::generic_category(), "pipe2");
            ::fcntl(wake_pipe_[1], F_SETFL, O_NONBLOCK);
        }
    }

    /// Moves every queued line to the back of @p out (executor only).
    take_status take(std::deque<input_line>& out)
    {
        std::lock_guard lock(mutex_);
        if (lines_.empty())
        {
            if (finished_)
                return take_status::ended;
            executor_waits_ = true;
            return take_status::empty;
        }
        const bool was_full = full();
        for (auto& l : lines_)
            out.push_back(std::move(l));
        lines_.clear();
        bytes_ = 0;
        if (was_full)
            room_.notify_one();
        return take_status::lines;
    }

    /// Why reading ended early ("" at the end of input or on a stop).
    std::string error() const
    {
        std::lock_guard lock(mutex_);
        return error_;
    }

    /// True once the reader has finished: it touches neither the input nor the queue again.
    bool reader_finished() const
    {
        std::lock_guard lock(mutex_);
        return finished_;
    }

    /**
     * No more lines are wanted: queued ones are dropped, a reader waiting for room or in
     * poll(2) on wake_fd() returns, and a reader between reads stops before the next one.
     * The reader still calls finish(), which wakes the executor one last time.
     */
    void stop()
    {
        {
            std::lock_guard lock(mutex_);
            if (stopped_)
                return;
            stopped_ = true;
            executor_waits_ = true;
            lines_.clear();
            bytes_ = 0;
        }
        room_.notify_all();
        if (wake_pipe_[1] >= 0)
        {
            const char byte = 0;
            [[maybe_unused]] auto n = ::write(wake_pipe_[1], &byte, 1);
        }
    }

    /**
     * Executor only, when the import is over: the reader is abandoned. Under the lock, as
     * every wake-up is posted, the executor is forgotten: from here on the reader posts
     * nothing and no queued wake-up touches the timer, so a reader left running (detached, in
     * a read that blocks) touches nothing of the import's, even once its io_context is gone.
     */
    void close()
    {
        std::lock_guard lock(mutex_);
        wake_ = nullptr;
        ex_.reset();
    }

    // --- the reader side -----------------------------------------------------------------

    /// The read end of the wake pipe: readable once stop() was called (-1 without a pipe).
    int wake_fd() const noexcept { return wake_pipe_[0]; }

    /// True once stop() was called.
    bool stopped() const
    {
        std::lock_guard lock(mutex_);
        return stopped_;
    }

    /**
     * Queues the lines of @p batch in order, waiting for room when the queue is full; false
     * when the import stopped (the rest is dropped). @p batch is left empty.
     */
    bool push(std::vector<input_line>& batch)
    {
        std::unique_lock lock(mutex_);
        for (auto& l : batch)
        {
            room_.wait(lock, [&] { return stopped_ || !full(); });
            if (stopped_)
            {
                batch.clear();
                return false;
            }
            bytes_ += l.text.size();
            lines_.push_back(std::move(l));
            wake_executor(lock);
        }
        batch.clear();
        return true;
    }

    /// The reader's last call: no line follows; @p error says why reading ended early.
    void finish(std::string error)
    {
        std::unique_lock lock(mutex_);
        finished_ = true;
        error_ = std::move(error);
        executor_waits_ = true;
        wake_executor(lock);
    }

private:
    bool full() const { return lines_.size() >= max_lines_ || bytes_ >= max_bytes_; }

    // Called with the lock held. Posts one wake-up when the executor waits for lines, unless
    // the queue was closed (the import is over: its executor may be gone); the handler cancels
    // the executor's timer, unless close() came first.
    void wake_executor(std::unique_lock<std::mutex>&)
    {
        if (!executor_waits_ || !ex_)
            return;
        executor_waits_ = false;
        boost::asio::post(*ex_, [self = shared_from_this()] {
            // On the executor, as close() is: no lock needed to read wake_.
            if (self->wake_)
                self->wake_->cancel();
        });
    }

    const std::size_t max_lines_;
    const std::size_t max_bytes_;
    mutable std::mutex mutex_;
    std::condition_variable room_;
    std::deque<input_line> lines_;
    std::size_t bytes_ = 0;
    bool executor_waits_ = false;
    bool stopped_ = false;
    bool finished_ = false;
    std::string error_;
    std::optional<boost::asio::any_io_executor> ex_;
    boost::asio::steady_timer* wake_ = nullptr; // executor only
    int wake_pipe_[2] = {-1, -1};
};

/**
 * The reader of a file descriptor, on its own thread: waits in poll(2) for input or for the
 * queue's wake pipe, then reads what is there. A stop wakes it at once, even while the pipe
 * that feeds it stalls, so it can always be joined. The descriptor's flags are left alone: a
 * descriptor in non-blocking mode (EAGAIN) works too.
 */
// What a reader works with: the splitter, the batch it fills, its read buffer, and the error it
// stopped on ("" at the end of the input or on a stop).
struct reader_state
{
    explicit reader_state(std::size_t max_line) : split(max_line) {}

    line_splitter split;
    std::vector<input_line> batch;
    std::vector<char> buffer = std::vector<char>(64 * 1024);
    std::string error;
};

/**
 * Runs a reader to its end: @p step reads once, feeds the splitter and pushes the batch, and
 * returns false when the reader is done (with `error` set when it failed). An exception (only
 * allocation failure, or a stream with exceptions() set) is a read error. The queue then
 * learns that the reader finished, and why.
 */
template <class Step>
void run_reader(line_queue& queue, std::size_t max_line, Step step)
{
    std::string error;
    try
    {
        reader_state r(max_line);
        while (step(r))
        {}
        error = std::move(r.error);
    }
    catch (const std::exception& e)
    {
        error = std::string("cannot read input: ") + e.what();
    }
    queue.finish(std::move(error));
}

inline void read_descriptor(std::shared_ptr<line_queue> queue, int fd, std::size_t max_line)
{
    run_reader(*queue, max_line, [&](reader_state& r) {
        ::pollfd fds[2] = {{fd, POLLIN, 0}, {queue->wake_fd(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0)
        {
            if (errno == EINTR)
                return true;
            r.error = std::string("cannot wait for input: ") + std::strerror(errno);
            return false;
        }
        if (fds[1].revents != 0 || queue->stopped())
            return false;
        if (fds[0].revents == 0)
            return true;

        // poll(2) said so: this read does not block (on a pipe, a socket or a terminal).
        const auto n = ::read(fd, r.buffer.data(), r.buffer.size());
        if (n < 0)
        {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            r.error = std::string("cannot read input: ") + std::strerror(errno);
            return false;
        }
        if (n == 0)
            r.split.finish(r.batch);
        else
            r.split.feed(r.buffer.data(), static_cast<std::size_t>(n), r.batch);
        return queue->push(r.batch) && n != 0;
    });
}

/**
 * The reader of a std::istream, on its own thread. What the stream has buffered is taken
 * without blocking (readsome); only when it has nothing does a get() wait, and the lines read
 * so far are queued before it, so none waits behind a stalled source. A stop is seen between
 * reads; a get() that blocks holds the reader until it returns, since a std::istream read
 * cannot be interrupted.
 *
 * The import either waits for this thread (the caller's `std::istream&`: a thread left behind
 * could use the stream after the caller destroyed it) or, when the reader shares ownership of
 * the stream (read_shared_stream), leaves it to finish a blocked read on its own once the
 * queue is closed: it then touches only the queue and the stream, both shared.
 */
inline void read_stream(std::shared_ptr<line_queue> queue, std::istream& in, std::size_t max_line)
{
    run_reader(*queue, max_line, [&](reader_state& r) {
        if (queue->stopped())
            return false;
        const auto n = in.readsome(r.buffer.data(), static_cast<std::streamsize>(r.buffer.size()));
        if (n > 0)
        {
            r.split.feed(r.buffer.data(), static_cast<std::size_t>(n), r.batch);
            return queue->push(r.batch);
        }
        char ch = 0;
        if (!in.get(ch))
        {
            if (in.bad())
                r.error = "cannot read input";
            r.split.finish(r.batch);
            queue->push(r.batch);
            return false;
        }
        r.split.feed(&ch, 1, r.batch);
        return queue->push(r.batch);
    });
}

/**
 * read_stream() over a stream the reader owns a share of: the import may leave it running,
 * detached, once stopped. The stream goes when the last owner lets go of it, which may be
 * here, on the reader's thread.
 */
inline void read_shared_stream(std::shared_ptr<line_queue> queue,
                               std::shared_ptr<std::istream> in,
                               std::size_t max_line)
{
    read_stream(std::move(queue), *in, max_line);
}

} // namespace stackone::detail

#endif
