//
// One pooled connection: a TCP or TLS stream with its read buffer and bookkeeping.
//
#ifndef STACKONE_IMPL_INTERNAL_CONNECTION_HPP
#define STACKONE_IMPL_INTERNAL_CONNECTION_HPP

#include <stackone/detail/response.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>

namespace stackone::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Where a client's I/O runs: a strand of the user's executor (client_options::thread_safe), or
// the executor itself.
// TODO(#3): a concrete executor type on the hot path; the type-erased one costs a few thousand
// instructions per note in queries and copies (bench/README.md, "Where the client's time
// goes"). It needs the I/O objects and coroutines typed on the io_context's executor, with the
// strand as a second instantiation, which doubles the compile time of lib/.
// TODO(#3): asio::ssl::stream costs about 24k instructions per HTTPS note over plain HTTP (two
// SSL_read calls per response, an error-queue clear before each operation, a memory BIO pair)
// and 34 KiB of zeroed buffers per connection (9 MB of the peak RSS at 256 connections); an
// SSL attached to the socket, driven by the reactor's readiness waits, would avoid most of it.
using io_executor_type = asio::any_io_executor;
using steady_clock = std::chrono::steady_clock;

class connection
{
public:
    connection(const io_executor_type& ex, asio::ssl::context* tls_context)
    {
        if (tls_context)
            tls_.emplace(ex, *tls_context);
        else
            tcp_.emplace(ex);
    }

    bool is_tls() const noexcept { return tls_.has_value(); }

    // The TCP layer, whose timer bounds every operation.
    beast::tcp_stream& tcp() noexcept { return tls_ ? tls_->next_layer() : *tcp_; }

    beast::ssl_stream<beast::tcp_stream>& tls() noexcept { return *tls_; }

    // Beast's HTTP algorithms and asio::async_write run over this one type whichever the
    // transport, so each is instantiated once, not once per stream type.
    class stream
    {
    public:
        using executor_type = asio::any_io_executor;

        explicit stream(connection& c) noexcept : c_(c) {}

        executor_type get_executor() { return c_.tcp().get_executor(); }

        template <class MutableBuffers, class Token>
        auto async_read_some(const MutableBuffers& buffers, Token&& token)
        {
            return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
                [this](auto handler, const MutableBuffers& b) {
                    if (c_.is_tls())
                        c_.tls().async_read_some(b, std::move(handler));
                    else
                        c_.tcp().async_read_some(b, std::move(handler));
                },
                token,
                buffers);
        }

        template <class ConstBuffers, class Token>
        auto async_write_some(const ConstBuffers& buffers, Token&& token)
        {
            return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
                [this](auto handler, const ConstBuffers& b) {
                    if (c_.is_tls())
                        c_.tls().async_write_some(b, std::move(handler));
                    else
                        c_.tcp().async_write_some(b, std::move(handler));
                },
                token,
                buffers);
        }

    private:
        connection& c_;
    };

    stream as_stream() noexcept { return stream(*this); }

    // A cheap check that an idle connection is still open: the peer's FIN (or a TLS alert,
    // or any unexpected byte) is waiting in the socket. Nothing is read, nothing is cancelled.
    bool looks_alive() noexcept
    {
        if (!tcp().socket().is_open())
            return false;
        char byte = 0;
        const auto n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || n > 0)
            return false;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }

    void close() noexcept
    {
        // Closing without close_notify would make OpenSSL mark the session not resumable;
        // marking the shutdown done keeps it usable for the pool's next connections.
        if (tls_)
            SSL_set_shutdown(tls_->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        boost::system::error_code ignored;
        tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        tcp().socket().close(ignored);
    }

    beast::flat_buffer buffer;
    response_parts response; // the last response read on this connection
    steady_clock::time_point created_at = steady_clock::now();
    steady_clock::time_point last_used = created_at;
    std::size_t requests = 0;
    std::chrono::milliseconds server_keep_alive{0}; // from `Keep-Alive: timeout=N`

private:
    std::optional<beast::tcp_stream> tcp_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

} // namespace stackone::detail

#endif
