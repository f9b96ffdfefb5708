//
// One pooled connection: a TCP socket, for HTTPS with an OpenSSL session on top, and the
// connection's buffers and bookkeeping.
//
#ifndef STACKONE_IMPL_INTERNAL_CONNECTION_HPP
#define STACKONE_IMPL_INTERNAL_CONNECTION_HPP

#include <stackone/detail/response.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

namespace stackone::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Where a client's I/O runs: a strand of the user's executor (client_options::thread_safe), or
// the executor itself. It stays type-erased: a concrete executor type would save about 1k
// instructions per note (any_executor.hpp under callgrind, bench/README.md) but needs the I/O
// objects and coroutines typed on it, with the strand as a second instantiation, which would
// double the compile time of lib/.
using io_executor_type = asio::any_io_executor;
using steady_clock = std::chrono::steady_clock;

// What one step of the TLS engine came to.
enum class tls_step
{
    done,       // the handshake finished, or application data was decrypted
    want_input, // OpenSSL needs more bytes from the socket
    failed,     // the error_code says why (asio::error::eof after the peer's close_notify)
};

// A connection. For HTTPS, OpenSSL reads the bytes the client received from `tls_in` and
// leaves what it wants sent in `tls_out`; the client moves both with the socket, so every
// wait is an ordinary socket operation bounded by the tcp_stream's timer, and a write that the
// socket takes at once needs no asynchronous operation at all. (asio::ssl::stream does the
// same through a memory BIO pair, with an error-queue clear before every operation, a second
// SSL_read per response and two zeroed 17 KiB buffers per connection: measured in
// bench/README.md.)
class connection
{
public:
    connection(const io_executor_type& ex, asio::ssl::context* tls_context) : tcp_(ex)
    {
        if (!tls_context)
            return;
        ssl_.reset(SSL_new(tls_context->native_handle()));
        BIO_METHOD* method = bio_method();
        BIO* bio = ssl_ && method ? BIO_new(method) : nullptr;
        if (!bio)
        {
            auto ec = last_ssl_error();
            throw boost::system::system_error(ec ? ec : asio::error::no_memory, "TLS session");
        }
        BIO_set_data(bio, this);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl_.get(), bio, bio); // one BIO both ways: the SSL owns it
        SSL_set_connect_state(ssl_.get());
    }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    bool is_tls() const noexcept { return ssl_ != nullptr; }

    // The TCP layer, whose timer bounds every operation.
    beast::tcp_stream& tcp() noexcept { return tcp_; }

    SSL* ssl() const noexcept { return ssl_.get(); }

    // Writes what the socket takes now, without waiting: the bytes written, 0 when the socket
    // buffer is full. The caller writes the rest asynchronously.
    std::size_t write_now(asio::const_buffer b, boost::system::error_code& ec) noexcept
    {
        for (;;)
        {
            const auto n = ::send(
                tcp_.socket().native_handle(), b.data(), b.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0)
                return static_cast<std::size_t>(n);
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                ec.assign(errno, boost::system::system_category());
            return 0;
        }
    }

    // --- TLS: each step runs OpenSSL over the buffers, never the socket. ---

    // Advances the client handshake.
    tls_step handshake(boost::system::error_code& ec) noexcept
    {
        clean_error_queue();
        const int r = SSL_do_handshake(ssl_.get());
        return r == 1 ? tls_step::done : failure(r, ec);
    }

    // Encrypts all of @p b into tls_out. (SSL_MODE_ENABLE_PARTIAL_WRITE is never set, so a
    // success encrypted everything; the check keeps a cut request from being sent if it were.)
    tls_step encrypt(asio::const_buffer b, boost::system::error_code& ec) noexcept
    {
        clean_error_queue();
        std::size_t written = 0;
        const int r = SSL_write_ex(ssl_.get(), b.data(), b.size(), &written);
        if (r != 1)
            return failure(r, ec);
        if (written == b.size())
            return tls_step::done;
        ec = asio::ssl::error::unexpected_result;
        return tls_step::failed;
    }

    // Decrypts application data into @p b; @p n is set when done.
    tls_step decrypt(asio::mutable_buffer b, std::size_t& n, boost::system::error_code& ec) noexcept
    {
        clean_error_queue();
        const int r = SSL_read_ex(ssl_.get(), b.data(), b.size(), &n);
        return r == 1 ? tls_step::done : failure(r, ec);
    }

    // True when a decrypt could finish without reading the socket.
    bool tls_input_ready() const noexcept
    {
        return tls_in.size() > 0 || tls_in_eof_ || SSL_has_pending(ssl_.get()) == 1;
    }

    // Queues close_notify in tls_out.
    void close_notify() noexcept
    {
        clean_error_queue();
        if (SSL_shutdown(ssl_.get()) < 0)
            ERR_clear_error();
    }

    // Takes @p n bytes read from the socket into tls_in. The end of the stream is no error
    // here: OpenSSL's next step ends with the peer's close_notify or a truncation.
    boost::system::error_code tls_input_arrived(std::size_t n,
                                                boost::system::error_code ec) noexcept
    {
        tls_in.commit(n);
        if (ec == asio::error::eof)
        {
            tls_in_eof_ = true;
            return {};
        }
        return ec;
    }

    // A cheap check that an idle connection is still open: the peer's FIN (or a TLS alert,
    // or any unexpected byte) is waiting in the socket. Nothing is read, nothing is cancelled.
    bool looks_alive() noexcept
    {
        if (!tcp_.socket().is_open() || tls_in.size() > 0)
            return false;
        char byte = 0;
        const auto n = ::recv(tcp_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || n > 0)
            return false;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }

    void close() noexcept
    {
        // Closing without close_notify would make OpenSSL mark the session not resumable;
        // marking the shutdown done keeps it usable for the pool's next connections.
        if (ssl_)
            SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        boost::system::error_code ignored;
        tcp_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        tcp_.socket().close(ignored);
    }

    // The socket reads this much raw TLS at a time: a whole record of the largest size.
    static constexpr std::size_t tls_read_size = 16 * 1024 + 512;

    beast::flat_buffer buffer; // received HTTP bytes, not parsed yet
    beast::flat_buffer tls_in; // received TLS bytes, not decrypted yet
    std::string tls_out;       // TLS bytes OpenSSL produced, not written yet
    response_parts response;   // the last response read on this connection
    steady_clock::time_point created_at = steady_clock::now();
    steady_clock::time_point last_used = created_at;
    std::size_t requests = 0;
    std::chrono::milliseconds server_keep_alive{0}; // from `Keep-Alive: timeout=N`

private:
    struct ssl_free
    {
        void operator()(SSL* s) const noexcept { SSL_free(s); }
    };

    static boost::system::error_code last_ssl_error() noexcept
    {
        const auto e = ERR_get_error();
        ERR_clear_error();
        return {static_cast<int>(e), asio::error::get_ssl_category()};
    }

    // SSL_get_error reads the thread's error queue, so it must hold nothing older than the
    // call it explains. Peeking is cheaper than clearing it every time.
    static void clean_error_queue() noexcept
    {
        if (ERR_peek_error() != 0)
            ERR_clear_error();
    }

    tls_step failure(int r, boost::system::error_code& ec) noexcept
    {
        switch (SSL_get_error(ssl_.get(), r))
        {
        case SSL_ERROR_WANT_READ:
            if (!tls_in_eof_)
                return tls_step::want_input;
            ec = asio::ssl::error::stream_truncated;
            return tls_step::failed;
        case SSL_ERROR_ZERO_RETURN:
            ec = asio::error::eof; // the peer's close_notify
            return tls_step::failed;
        default:
        {
            const auto e = ERR_peek_error();
            // The socket ended without close_notify: a truncation, as asio::ssl reports it.
            const bool unexpected_eof = ERR_GET_LIB(e) == ERR_LIB_SSL &&
                                        ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
            if (tls_in_eof_ && (e == 0 || unexpected_eof))
            {
                ERR_clear_error();
                ec = asio::ssl::error::stream_truncated;
            }
            else if (e == 0)
            {
                ec = asio::error::connection_reset;
            }
            else
            {
                ec = last_ssl_error();
            }
            return tls_step::failed;
        }
        }
    }

    // OpenSSL's side of the buffers: reads take from tls_in, writes append to tls_out.
    static BIO_METHOD* bio_method() noexcept
    {
        static BIO_METHOD* const method = [] {
            BIO_METHOD* m =
                BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "stackone connection");
            if (m)
            {
                BIO_meth_set_read_ex(m, &bio_read);
                BIO_meth_set_write_ex(m, &bio_write);
                BIO_meth_set_ctrl(m, &bio_ctrl);
            }
            return m;
        }();
        return method;
    }

    static int bio_read(BIO* bio, char* out, std::size_t size, std::size_t* read) noexcept
    {
        auto& self = *static_cast<connection*>(BIO_get_data(bio));
        BIO_clear_retry_flags(bio);
        const auto available = self.tls_in.size();
        if (available == 0)
        {
            if (!self.tls_in_eof_)
                BIO_set_retry_read(bio);
            return 0;
        }
        const auto n = std::min(size, available);
        std::memcpy(out, self.tls_in.data().data(), n);
        self.tls_in.consume(n);
        *read = n;
        return 1;
    }

    static int bio_write(BIO* bio, const char* in, std::size_t size, std::size_t* written) noexcept
    {
        auto& self = *static_cast<connection*>(BIO_get_data(bio));
        BIO_clear_retry_flags(bio);
        try
        {
            self.tls_out.append(in, size);
        }
        catch (...)
        {
            return 0;
        }
        *written = size;
        return 1;
    }

    static long bio_ctrl(BIO* bio, int cmd, long, void*) noexcept
    {
        auto& self = *static_cast<connection*>(BIO_get_data(bio));
        switch (cmd)
        {
        case BIO_CTRL_FLUSH:
            return 1;
        case BIO_CTRL_PENDING:
            return static_cast<long>(self.tls_in.size());
        case BIO_CTRL_EOF:
            return self.tls_in_eof_ && self.tls_in.size() == 0;
        default:
            return 0;
        }
    }

    beast::tcp_stream tcp_;
    std::unique_ptr<SSL, ssl_free> ssl_;
    bool tls_in_eof_ = false;
};

} // namespace stackone::detail

#endif
