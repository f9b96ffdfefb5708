//
// Out-of-line bodies of client.hpp: the pool, one attempt, and the retry loop.
//
#ifndef STACKONE_IMPL_CLIENT_IPP
#define STACKONE_IMPL_CLIENT_IPP

#include <stackone/client.hpp>
#include <stackone/detail/json_number.hpp>
#include <stackone/detail/prepared_call.hpp>
#include <stackone/detail/request.hpp>
#include <stackone/detail/response.hpp>
#include <stackone/detail/retry.hpp>
#include <stackone/impl/error.ipp>
#include <stackone/impl/internal/connection.hpp>
#include <stackone/impl/note.ipp>
#include <stackone/version.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/intrusive/list.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace stackone {
namespace detail {

namespace http = beast::http;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

inline steady_clock::time_point deadline_from(steady_clock::time_point now,
                                              std::chrono::milliseconds d) noexcept
{
    return d.count() > 0 ? now + d : steady_clock::time_point::max();
}

// One call in flight: its request, its handler, and what a cancellation must interrupt.
// A call in flight. Linked into the client's list of active calls (for shutdown) without an
// allocation of its own; it unlinks itself when destroyed.
struct call_state
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>
{
    prepared_call call;
    // Boost 1.81's any_completion_handler move assignment recurses forever (it copies from an
    // lvalue): the handler is only ever move-constructed, here by emplace().
    std::optional<create_handler> handler;
    bool has_handler() const noexcept { return handler && *handler; }
    create_result result;

    bool cancelled = false;
    connection* active = nullptr; // the connection an attempt is using

    // What the current attempt did, for client_options::on_attempt.
    bool attempt_reused = false;            // it took a connection that had served a request before
    bool attempt_sent = false;              // it wrote request bytes
    int attempt_status = 0;                 // the status line of a response that arrived in part
    asio::steady_timer* sleeping = nullptr; // a backoff or pool wait in progress
};

// A caller waiting for a pool slot. Woken by cancelling its timer.
struct pool_waiter
{
    asio::steady_timer timer;
    std::unique_ptr<connection> handed; // an idle connection passed on by release()
    bool slot_reserved = false;         // a freed slot passed on by release()
};

class client_impl : public std::enable_shared_from_this<client_impl>
{
public:
    // The SSL_CTX outlives the client while a close_notify sent at shutdown still runs (each
    // SSL holds a reference): its session callback must not find this object any more.
    ~client_impl()
    {
        SSL_CTX_set_ex_data(tls_context_.native_handle(), session_ex_index(), nullptr);
    }

    client_impl(asio::any_io_executor ex, client_options opts, origin o)
        : executor_(ex),
          // A strand only when the client may be used from several threads: on a
          // single-threaded io_context it would cost allocations on every operation.
          io_ex_(opts.thread_safe ? io_executor_type(asio::make_strand(ex)) : ex),
          opts_(std::move(opts)), origin_(std::move(o)),
          tls_context_(asio::ssl::context::tls_client), rng_(std::random_device{}()),
          budget_(opts_.retry_budget), pacer_(opts_.requests_per_minute)
    {
        if (opts_.user_agent.empty())
            opts_.user_agent = std::string("stackone-notes-cpp/") + STACKONE_NOTES_VERSION;
        if (!is_valid_header_value(opts_.user_agent) || !is_valid_header_value(opts_.api_key))
            throw error(errc::invalid_header_value, {});
        fixed_headers_ = render_fixed_headers(origin_, opts_.api_key, opts_.user_agent);
        if (origin_.tls)
            configure_tls();
    }

    const client_options& options() const noexcept { return opts_; }
    const origin& target() const noexcept { return origin_; }
    const std::string& fixed_headers() const noexcept { return fixed_headers_; }
    const asio::any_io_executor& executor() const noexcept { return executor_; }
    const io_executor_type& io_executor() const noexcept { return io_ex_; }

    pool_stats stats() const
    {
        std::lock_guard lock(stats_mutex_);
        return stats_;
    }

    // Never throws: a log sink that fails must not break the pool's bookkeeping mid-step.
    template <class... Parts>
    void log(log_level level, const Parts&... parts) const noexcept
    {
        if (!opts_.log.enabled(level))
            return;
        try
        {
            std::string text;
            (text.append(parts), ...);
            opts_.log.sink(level, text);
        }
        catch (...)
        {}
    }

    double random_unit(const retry_options& r)
    {
        if (r.random)
            return r.random();
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }

    // Runs one call to its end and delivers the result to its handler.
    asio::awaitable<void> run_call(std::shared_ptr<call_state> st);

    // Passes @p ev to client_options::on_attempt; an exception from it is logged once.
    void notify_attempt(const attempt_event& ev)
    {
        try
        {
            opts_.on_attempt(ev);
        }
        catch (const std::exception& e)
        {
            if (!observer_threw_)
                log(log_level::warn, "on_attempt observer threw (reported once): ", e.what());
            observer_threw_ = true;
        }
        catch (...)
        {
            if (!observer_threw_)
                log(log_level::warn, "on_attempt observer threw (reported once)");
            observer_threw_ = true;
        }
    }

    void cancel(call_state& st)
    {
        st.cancelled = true;
        if (st.active)
            st.active->tcp().cancel();
        if (st.sleeping)
            st.sleeping->cancel();
    }

    // Graceful shutdown: close_notify on idle TLS streams, then wait for the calls in flight
    // for @p grace, then cancel what is left and wait for it to end.
    asio::awaitable<void> shutdown(std::chrono::milliseconds grace)
    {
        auto self = shared_from_this();
        shutting_down_ = true;

        for (auto& c : take_idle())
        {
            if (!c->is_tls())
            {
                c->close();
                continue;
            }
            // close_notify for each TLS stream, all at once, each bounded by a second.
            asio::co_spawn(
                io_ex_,
                [conn = std::move(c)]() -> asio::awaitable<void> {
                    conn->tcp().expires_after(std::chrono::seconds(1));
                    conn->close_notify();
                    co_await write_all(*conn, asio::buffer(conn->tls_out));
                    conn->close();
                },
                asio::detached);
        }

        // Waiters for a pool slot cannot get one any more.
        for (auto* w : waiters_)
            w->timer.cancel();
        open_session_gate();

        asio::steady_timer drained(io_ex_, deadline_from(steady_clock::now(), grace));
        if (!active_calls_.empty())
        {
            drain_timer_ = &drained;
            co_await drained.async_wait(tuple_awaitable);
        }
        if (!active_calls_.empty())
        {
            log(log_level::info,
                "shutdown: cancelling ",
                std::to_string(active_calls_.size()),
                " calls still in flight");
            for (auto& st : active_calls_)
                cancel(st);
            drained.expires_at(steady_clock::time_point::max());
            co_await drained.async_wait(tuple_awaitable);
        }
        drain_timer_ = nullptr;
    }

    void shut_down()
    {
        shutting_down_ = true;
        for (auto& c : take_idle())
            c->close();
    }

    // Removes every idle connection from the pool (and its counts) for the caller to close.
    std::vector<std::unique_ptr<connection>> take_idle()
    {
        std::vector<std::unique_ptr<connection>> idle;
        idle.swap(idle_);
        open_ -= idle.size();
        update_stats([&](pool_stats& s) {
            s.open -= idle.size();
            s.idle = 0;
        });
        return idle;
    }

private:
    struct acquired
    {
        error_code ec;
        std::string detail;
        std::unique_ptr<connection> conn;
        bool reused = false;
    };

    struct attempt_result
    {
        error_code ec;
        std::string retry_after;
        bool headers_fixed_early = false;
    };

    void configure_tls();
    void enable_session_resumption();

    // Our own ex_data slot of the SSL_CTX, pointing back at the client: Asio keeps its verify
    // callback in the context's app data.
    static int session_ex_index()
    {
        static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
        return index;
    }
    asio::awaitable<bool> sleep_until(call_state& st, steady_clock::time_point until);
    steady_clock::time_point attempt_start(const call_state& st, int attempt);
    void
    note_rate_limit(const call_state& st, const retry_options& retry, std::string_view retry_after);
    std::unique_ptr<connection> take_usable_idle();
    asio::awaitable<acquired> acquire(call_state& st, steady_clock::time_point deadline);
    asio::awaitable<acquired> connect(call_state& st, steady_clock::time_point deadline);

    // The TLS handshake on a connected socket, bounded by its timer.
    asio::awaitable<error_code> tls_handshake(const call_state& st, connection& c);

    // Writes @p b, without an asynchronous operation when the socket takes it at once.
    static asio::awaitable<error_code> write_all(connection& c, asio::const_buffer b);
    void release(std::unique_ptr<connection> c, bool reusable);
    bool still_usable(connection& c, steady_clock::time_point now, std::uint64_t& counter_hint);
    asio::awaitable<attempt_result> run_attempt(call_state& st,
                                                int attempt,
                                                steady_clock::time_point attempt_deadline,
                                                steady_clock::time_point call_deadline);

    template <class F>
    void update_stats(F&& f)
    {
        std::lock_guard lock(stats_mutex_);
        f(stats_);
    }

    asio::any_io_executor executor_;
    io_executor_type io_ex_;
    client_options opts_;
    origin origin_;
    std::string fixed_headers_;
    asio::ssl::context tls_context_;
    struct session_free
    {
        void operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }
    };
    std::unique_ptr<SSL_SESSION, session_free> tls_session_; // the latest, for resumption

    // The first-session gate (pool_options::share_first_session): while closed, the connection
    // in `session_pioneer_` does the only full handshake and the other new connections wait on
    // their timers in `session_waiters_`. Once open, it stays open.
    bool session_gate_open_ = false;
    const connection* session_pioneer_ = nullptr;
    std::vector<asio::steady_timer*> session_waiters_;
    std::optional<asio::steady_timer> session_gate_timer_;

    // The first handshake is done but its session has not come yet (TLS 1.3 sends it after
    // the handshake): the others wait about one more handshake time for it, not for the
    // first response, which a slow provider may take long to send.
    // The longest a connection waits for another's session: the handshake timeout, or the
    // connect timeout without one.
    std::chrono::milliseconds session_wait_limit() const
    {
        return opts_.pool.handshake_timeout.count() > 0 ? opts_.pool.handshake_timeout
                                                        : opts_.pool.connect_timeout;
    }

    void bound_session_wait(steady_clock::duration handshake_time)
    {
        steady_clock::duration grace =
            std::max<steady_clock::duration>(handshake_time, std::chrono::milliseconds(20));
        if (const auto limit = session_wait_limit(); limit.count() > 0)
            grace = std::min<steady_clock::duration>(grace, limit);
        if (!session_gate_timer_)
            session_gate_timer_.emplace(io_ex_);
        session_gate_timer_->expires_after(grace);
        session_gate_timer_->async_wait([weak = weak_from_this()](error_code ec) {
            if (auto self = weak.lock(); self && !ec)
                self->open_session_gate();
        });
    }

    void open_session_gate()
    {
        session_gate_open_ = true;
        session_pioneer_ = nullptr;
        for (auto* t : session_waiters_)
            t->cancel();
        session_waiters_.clear();
    }
    std::mt19937_64 rng_;

    // Pool state; touched on the strand only.
    std::vector<std::unique_ptr<connection>> idle_;
    std::deque<pool_waiter*> waiters_;
    std::size_t open_ = 0;
    bool shutting_down_ = false;

    // Retry and rate state, shared by the client's calls; touched on the strand only.
    retry_budget budget_;
    pacer pacer_;
    std::unordered_map<std::string, steady_clock::time_point> account_pauses_;

    // Calls in flight, for shutdown; and the timer a shutdown waits on until they are gone.
    boost::intrusive::list<call_state, boost::intrusive::constant_time_size<false>> active_calls_;
    asio::steady_timer* drain_timer_ = nullptr;

    // An on_attempt observer threw once already; touched on the strand only.
    bool observer_threw_ = false;

    // Counters are also read from other threads through client::stats().
    mutable std::mutex stats_mutex_;
    pool_stats stats_;
};

inline void client_impl::configure_tls()
{
    // TLS 1.2 at least; compression and renegotiation off.
    tls_context_.set_options(asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                             asio::ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(tls_context_.native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_options(tls_context_.native_handle(), SSL_OP_NO_RENEGOTIATION);

    if (opts_.tls.insecure_skip_verify)
    {
        enable_session_resumption();
        tls_context_.set_verify_mode(asio::ssl::verify_none);
        log(log_level::warn,
            "TLS verification is OFF (insecure_skip_verify): anyone on the path can read the "
            "API key");
        return;
    }
    tls_context_.set_verify_mode(asio::ssl::verify_peer);
    enable_session_resumption();
    if (opts_.tls.use_system_trust)
        tls_context_.set_default_verify_paths();
    if (!opts_.tls.ca_file.empty())
        tls_context_.load_verify_file(opts_.tls.ca_file);
}

// New connections resume the latest TLS session of this client, so they skip the full
// handshake. OpenSSL hands each new session (a TLS 1.3 ticket arrives after the handshake,
// while a response is read) to this callback, on the strand.
inline void client_impl::enable_session_resumption()
{
    SSL_CTX* ctx = tls_context_.native_handle();
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_ex_data(ctx, session_ex_index(), this);
    SSL_CTX_sess_set_new_cb(ctx, [](SSL* ssl, SSL_SESSION* session) -> int {
        auto* self = static_cast<client_impl*>(
            SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), session_ex_index()));
        if (!self)
            return 0; // the client is gone (a close_notify still running): OpenSSL frees it
        self->tls_session_.reset(session);
        self->open_session_gate();
        return 1; // the session is ours now
    });
}

inline bool
client_impl::still_usable(connection& c, steady_clock::time_point now, std::uint64_t& counter_hint)
{
    const auto& pool = opts_.pool;
    if (pool.max_lifetime.count() > 0 && now - c.created_at >= pool.max_lifetime)
    {
        counter_hint = 1;
        return false;
    }
    // A server's `Keep-Alive: timeout=` is honoured with a one-second margin, so the server
    // never closes the connection while a request is on its way.
    auto idle_limit = pool.idle_timeout;
    if (c.server_keep_alive.count() > 0)
    {
        const auto server_limit = c.server_keep_alive - std::chrono::seconds(1);
        if (idle_limit.count() == 0 || server_limit < idle_limit)
            idle_limit = std::max(server_limit, std::chrono::milliseconds(0));
    }
    if ((idle_limit.count() > 0 || c.server_keep_alive.count() > 0) &&
        now - c.last_used >= idle_limit)
    {
        counter_hint = 2;
        return false;
    }
    if (!c.looks_alive())
    {
        counter_hint = 3;
        return false;
    }
    return true;
}

// Takes the most recently used idle connection that is still usable, retiring the ones that
// are not on the way; nullptr when none is left.
inline std::unique_ptr<connection> client_impl::take_usable_idle()
{
    // Most recently used first: it is the likeliest to be alive and warm.
    const auto now = steady_clock::now();
    while (!idle_.empty())
    {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        std::uint64_t why = 0;
        if (still_usable(*c, now, why))
        {
            update_stats([](pool_stats& s) {
                --s.idle;
                ++s.connections_reused;
            });
            return c;
        }
        c->close();
        --open_;
        update_stats([&](pool_stats& s) {
            --s.idle;
            --s.open;
            if (why == 1)
                ++s.retired_lifetime;
            else if (why == 2)
                ++s.retired_idle;
            else
                ++s.retired_closed_by_peer;
        });
        log(log_level::debug,
            "pool: retired an idle connection (",
            why == 1   ? "lifetime"
            : why == 2 ? "idle timeout"
                       : "closed by peer",
            ")");
    }
    return nullptr;
}

inline asio::awaitable<client_impl::acquired>
client_impl::acquire(call_state& st, steady_clock::time_point deadline)
{
    for (;;)
    {
        if (shutting_down_)
            co_return acquired{errc::shutting_down, {}, nullptr, false};

        if (auto c = take_usable_idle())
            co_return acquired{{}, {}, std::move(c), true};

        if (open_ < opts_.pool.max_connections)
        {
            ++open_;
            co_return co_await connect(st, deadline);
        }

        // At the bound: wait in line. release() hands over a connection or a free slot.
        pool_waiter waiter{asio::steady_timer(io_ex_, deadline), nullptr, false};
        waiters_.push_back(&waiter);
        update_stats([](pool_stats& s) { ++s.waiters; });
        st.sleeping = &waiter.timer;
        co_await waiter.timer.async_wait(tuple_awaitable);
        st.sleeping = nullptr;
        if (auto it = std::find(waiters_.begin(), waiters_.end(), &waiter); it != waiters_.end())
            waiters_.erase(it);
        update_stats([](pool_stats& s) { --s.waiters; });

        if (waiter.handed)
        {
            update_stats([](pool_stats& s) { ++s.connections_reused; });
            if (st.cancelled)
            {
                release(std::move(waiter.handed), true);
                co_return acquired{errc::cancelled, {}, nullptr, false};
            }
            co_return acquired{{}, {}, std::move(waiter.handed), true};
        }
        if (waiter.slot_reserved)
        {
            if (st.cancelled)
            {
                release(nullptr, false);
                co_return acquired{errc::cancelled, {}, nullptr, false};
            }
            co_return co_await connect(st, deadline);
        }
        if (st.cancelled)
            co_return acquired{errc::cancelled, {}, nullptr, false};
        if (steady_clock::now() >= deadline)
            co_return acquired{
                errc::deadline_exceeded, "waiting for a pool connection", nullptr, false};
    }
}

// Called with a slot already counted in open_; gives it back on failure.
inline asio::awaitable<client_impl::acquired>
client_impl::connect(call_state& st, steady_clock::time_point deadline)
{
    const connection* self_conn = nullptr;
    auto fail = [&](errc code, std::string detail) {
        if (self_conn && self_conn == session_pioneer_)
            open_session_gate();
        release(nullptr, false);
        log(log_level::warn, "connect to ", origin_.host, ": ", detail);
        return acquired{code, std::move(detail), nullptr, false};
    };

    asio::ip::tcp::resolver resolver(io_ex_);
    auto [rec, endpoints] = co_await resolver.async_resolve(
        origin_.host, std::to_string(origin_.port), tuple_awaitable);
    if (st.cancelled)
        co_return fail(errc::cancelled, "cancelled");
    if (rec)
        co_return fail(errc::resolve_failed, rec.message());

    auto c = std::make_unique<connection>(io_ex_, origin_.tls ? &tls_context_ : nullptr);
    self_conn = c.get();
    st.active = c.get();

    // Every resolved address is tried in turn, all within the connect timeout.
    const auto now = steady_clock::now();
    c->tcp().expires_at(std::min(deadline_from(now, opts_.pool.connect_timeout), deadline));
    auto [cec, ep] = co_await c->tcp().async_connect(endpoints, tuple_awaitable);
    if (st.cancelled)
        co_return fail(errc::cancelled, "cancelled");
    if (cec == beast::error::timeout)
        co_return fail(steady_clock::now() >= deadline ? errc::deadline_exceeded
                                                       : errc::connect_timeout,
                       "connect timed out");
    if (cec)
        co_return fail(errc::connect_failed, cec.message());
    c->tcp().socket().set_option(asio::ip::tcp::no_delay(true));

    if (c->is_tls())
    {
        SSL* ssl = c->ssl();
        // SNI carries host names only, never IP literals (RFC 6066).
        if (!origin_.host_is_ip && SSL_set_tlsext_host_name(ssl, origin_.host.c_str()) != 1)
        {
            ERR_clear_error(); // nothing on this thread may read it as a later call's error
            co_return fail(errc::tls_handshake_failed, "cannot set the TLS server name");
        }
        // The certificate must name the host: a DNS name (a wildcard only as a whole
        // left-most label) or, for an IP literal, an IP address entry.
        if (!opts_.tls.insecure_skip_verify)
        {
            const int set = origin_.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                                                               origin_.host.c_str())
                                               : SSL_set1_host(ssl, origin_.host.c_str());
            if (set != 1)
            {
                ERR_clear_error();
                co_return fail(errc::tls_handshake_failed, "cannot check the host name");
            }
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        }
        if (!tls_session_ && !session_gate_open_ && opts_.pool.share_first_session)
        {
            if (!session_pioneer_)
            {
                session_pioneer_ = c.get();
            }
            else
            {
                // Another connection's full handshake is under way: wait for its session.
                asio::steady_timer gate(
                    io_ex_,
                    std::min(deadline_from(steady_clock::now(), session_wait_limit()), deadline));
                struct unregister
                {
                    std::vector<asio::steady_timer*>& list;
                    asio::steady_timer* timer;
                    ~unregister() { std::erase(list, timer); }
                } registration{session_waiters_, &gate};
                session_waiters_.push_back(&gate);
                st.active = nullptr;
                st.sleeping = &gate;
                co_await gate.async_wait(tuple_awaitable);
                st.sleeping = nullptr;
                st.active = c.get();
                // A shutdown opens the gate too: the call goes on within its grace.
                if (st.cancelled)
                    co_return fail(errc::cancelled, "cancelled");
                if (steady_clock::now() >= deadline)
                    co_return fail(errc::deadline_exceeded, "waiting for a TLS session");
            }
        }
        if (tls_session_)
            SSL_set_session(ssl, tls_session_.get());

        const auto handshake_start = steady_clock::now();
        c->tcp().expires_at(
            std::min(deadline_from(handshake_start, opts_.pool.handshake_timeout), deadline));
        const error_code hec = co_await tls_handshake(st, *c);
        if (st.cancelled)
            co_return fail(errc::cancelled, "cancelled");
        if (hec == beast::error::timeout)
            co_return fail(steady_clock::now() >= deadline ? errc::deadline_exceeded
                                                           : errc::tls_handshake_timeout,
                           "TLS handshake timed out");
        if (hec)
        {
            std::string detail = hec.message();
            const long verify = SSL_get_verify_result(ssl);
            if (verify != X509_V_OK)
                detail = std::string("certificate verification failed: ") +
                         X509_verify_cert_error_string(verify);
            co_return fail(errc::tls_handshake_failed, detail);
        }
        const bool resumed = SSL_session_reused(ssl) == 1;
        if (c.get() == session_pioneer_ && !tls_session_)
            bound_session_wait(steady_clock::now() - handshake_start);
        update_stats(
            [&](pool_stats& s) { ++(resumed ? s.resumed_handshakes : s.full_handshakes); });
    }

    update_stats([](pool_stats& s) {
        ++s.connections_opened;
        ++s.open;
    });
    log(log_level::debug, "pool: opened a connection to ", origin_.host_header);
    co_return acquired{{}, {}, std::move(c), false};
}

inline asio::awaitable<error_code> client_impl::write_all(connection& c, asio::const_buffer b)
{
    error_code ec;
    const auto sent = c.write_now(b, ec);
    if (ec || sent == b.size())
        co_return ec;
    auto [wec, n] = co_await asio::async_write(c.tcp(), b + sent, tuple_awaitable);
    co_return wec;
}

inline asio::awaitable<error_code> client_impl::tls_handshake(const call_state& st, connection& c)
{
    for (;;)
    {
        // A cancellation that came between two socket operations has nothing to cancel.
        if (st.cancelled)
            co_return asio::error::operation_aborted;
        error_code ec;
        const auto step = c.handshake(ec);
        // A failed handshake may have an alert to send; its error is the one reported.
        error_code wec;
        if (!c.tls_out.empty())
        {
            wec = co_await write_all(c, asio::buffer(c.tls_out));
            c.tls_out.clear();
        }
        if (step == tls_step::failed)
            co_return ec;
        if (wec || step == tls_step::done)
            co_return wec;
        auto [rec, n] = co_await c.tcp().async_read_some(
            c.tls_in.prepare(connection::tls_read_size), tuple_awaitable);
        if ((rec = c.tls_input_arrived(n, rec)))
            co_return rec;
    }
}

// Gives a connection (or, with nullptr, a slot) back to the pool: to the first waiter if there
// is one, to the idle list, or closed.
inline void client_impl::release(std::unique_ptr<connection> c, bool reusable)
{
    // The first connection is back without a session for the others: they stop waiting.
    if (c && c.get() == session_pioneer_)
        open_session_gate();
    if (c && (!reusable || shutting_down_))
    {
        c->close();
        update_stats([](pool_stats& s) {
            --s.open;
            ++s.retired_not_reusable;
        });
        c.reset();
    }

    if (!waiters_.empty())
    {
        // FIFO: the longest waiter gets the connection, or the slot a closed one freed.
        pool_waiter* w = waiters_.front();
        waiters_.pop_front();
        if (c)
        {
            c->last_used = steady_clock::now();
            w->handed = std::move(c);
        }
        else
        {
            w->slot_reserved = true;
        }
        w->timer.cancel();
        return;
    }

    if (c)
    {
        c->last_used = steady_clock::now();
        idle_.push_back(std::move(c));
        update_stats([](pool_stats& s) { ++s.idle; });
    }
    else
    {
        --open_;
    }
}

// The error an expired stream timer stands for: whichever limit was reached.
inline errc timeout_kind(steady_clock::time_point now,
                         steady_clock::time_point attempt_deadline,
                         steady_clock::time_point call_deadline)
{
    if (now >= call_deadline)
        return errc::deadline_exceeded;
    if (now >= attempt_deadline)
        return errc::attempt_timeout;
    return errc::heartbeat_timeout;
}

// Reads `timeout=N` from a `Keep-Alive` header value.
inline std::chrono::milliseconds parse_keep_alive_timeout(std::string_view value)
{
    const auto pos = value.find("timeout=");
    if (pos == std::string_view::npos)
        return std::chrono::milliseconds(0);
    int seconds = 0;
    for (std::size_t i = pos + 8; i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i)
        seconds = std::min(seconds * 10 + (value[i] - '0'), 86400);
    return std::chrono::seconds(seconds);
}

inline asio::awaitable<client_impl::attempt_result>
client_impl::run_attempt(call_state& st,
                         int attempt,
                         steady_clock::time_point attempt_deadline,
                         steady_clock::time_point call_deadline)
{
    diagnostics& diag = st.result.diag;
    const auto io_deadline = std::min(attempt_deadline, call_deadline);
    // The result reports the last attempt's heartbeats, not an earlier one's.
    st.result.heartbeat_bytes = 0;
    st.result.heartbeat_applied = false;
    st.attempt_reused = false;
    st.attempt_sent = false;
    st.attempt_status = 0;

    // A warm idle connection is taken here, without a coroutine frame for acquire().
    acquired got;
    if (auto idle = shutting_down_ ? nullptr : take_usable_idle())
        got = acquired{{}, {}, std::move(idle), true};
    else
        got = co_await acquire(st, io_deadline);
    st.active = nullptr;
    if (got.ec)
    {
        diag.detail = got.detail;
        co_return attempt_result{got.ec, {}, false};
    }
    std::unique_ptr<connection> conn = std::move(got.conn);
    st.active = conn.get();
    st.attempt_reused = got.reused;
    ++conn->requests;

    // For TLS the request is encrypted first, after what OpenSSL had queued (an alert, a key
    // update's reply). Anything but a whole encryption fails the attempt with nothing sent:
    // the request bytes are never written as they are on a TLS connection.
    error_code wec;
    asio::const_buffer out = asio::buffer(st.call.request);
    if (conn->is_tls())
    {
        if (conn->encrypt(out, wec) != tls_step::done)
        {
            st.active = nullptr;
            release(std::move(conn), false);
            const error_code why = wec ? wec : error_code(asio::ssl::error::unexpected_result);
            diag.detail = "TLS: " + why.message();
            co_return attempt_result{errc::connection_closed, {}, false};
        }
        out = asio::buffer(conn->tls_out);
    }

    // From the first written byte on, the server may act on the request.
    log(log_level::debug,
        "attempt ",
        std::to_string(attempt),
        " for candidate ",
        st.call.candidate_id,
        got.reused ? " on a reused connection" : " on a new connection");
    diag.may_have_been_processed = true;
    st.attempt_sent = true;
    // The request is written at once when the socket takes it (the usual case); only the
    // rest, if any, waits in an asynchronous write.
    const auto sent = conn->write_now(out, wec);
    if (!wec && sent < out.size())
    {
        conn->tcp().expires_at(io_deadline);
        auto [ec, n] = co_await asio::async_write(conn->tcp(), out + sent, tuple_awaitable);
        wec = ec;
    }
    conn->tls_out.clear();
    if (conn->tls_out.capacity() > 64 * 1024)
        std::string().swap(conn->tls_out); // a large request's buffer is not kept
    if (wec)
    {
        st.active = nullptr;
        release(std::move(conn), false);
        if (st.cancelled)
            co_return attempt_result{errc::cancelled, {}, false};
        if (wec == beast::error::timeout)
            co_return attempt_result{
                timeout_kind(steady_clock::now(), attempt_deadline, call_deadline), {}, false};
        diag.detail = "write: " + wec.message();
        co_return attempt_result{errc::connection_closed, {}, false};
    }

    // Read the response. Each read of response bytes re-arms the idle timer, so a server that
    // keeps sending heartbeats keeps the attempt alive, up to the attempt and call deadlines.
    const auto& limits = opts_.limits;
    const auto gap = st.call.heartbeat ? opts_.heartbeat_gap : std::chrono::milliseconds(0);
    const response_limits body_limits{
        limits.body_bytes, limits.heartbeat_bytes, limits.heartbeat_time};
    response_parts& parts = conn->response;
    std::optional<response_reader> parser;
    auto new_parser = [&] {
        parser.emplace(parts, body_limits);
        parser->header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(limits.header_bytes, UINT32_MAX)));
    };
    new_parser();

    // Every read that brings response bytes re-arms the idle timer.
    auto arm_idle_timer = [&] {
        conn->tcp().expires_at(std::min(deadline_from(steady_clock::now(), gap), io_deadline));
    };
    error_code rec;
    for (;;)
    {
        // Parse what is buffered: bytes just read, or left over from a 1xx response.
        if (conn->buffer.size() > 0)
        {
            const auto used = parser->put(conn->buffer.data(), rec);
            conn->buffer.consume(used);
            if (rec == http::error::need_more)
                rec = {};
            else if (rec)
                break;
            else if (parser->is_done())
            {
                // An interim 1xx response re-armed the timer like any byte; the real one
                // follows.
                if (parts.status / 100 != 1 || parts.status == 101)
                    break;
                new_parser();
                continue;
            }
            else if (conn->buffer.size() > 0)
                continue;
        }

        const auto space = conn->buffer.prepare(
            std::clamp<std::size_t>(conn->buffer.capacity() - conn->buffer.size(), 512, 65536));
        std::size_t n = 0;
        if (!conn->is_tls())
        {
            if (st.cancelled) // a cancellation that came between two reads
            {
                rec = asio::error::operation_aborted;
                break;
            }
            arm_idle_timer();
            auto [ec, k] = co_await conn->tcp().async_read_some(space, tuple_awaitable);
            rec = ec;
            n = k;
        }
        else
        {
            // Decrypt what has arrived; read the socket only when OpenSSL needs more. The idle
            // timer is armed once per wait for response bytes: TLS records that carry none (a
            // session ticket, a key update) must not keep a call alive the way heartbeats do.
            bool armed = false;
            while (!conn->tls_input_ready() || conn->decrypt(space, n, rec) == tls_step::want_input)
            {
                if (st.cancelled)
                {
                    rec = asio::error::operation_aborted;
                    break;
                }
                if (!armed)
                {
                    arm_idle_timer();
                    armed = true;
                }
                // What OpenSSL wants sent while it reads (a warning alert, such as the refusal
                // of a TLS 1.2 renegotiation) goes out before the socket is read. (OpenSSL
                // sends the reply to a TLS 1.3 key update with the next write.)
                if (!conn->tls_out.empty())
                {
                    rec = co_await write_all(*conn, asio::buffer(conn->tls_out));
                    conn->tls_out.clear();
                    if (rec)
                        break;
                }
                auto [ec, k] = co_await conn->tcp().async_read_some(
                    conn->tls_in.prepare(connection::tls_read_size), tuple_awaitable);
                if ((rec = conn->tls_input_arrived(k, ec)))
                    break;
            }
        }
        conn->buffer.commit(n);
        if (rec == asio::error::eof)
        {
            // The stream ended: a close-delimited body is complete, anything else is cut.
            rec = {};
            if (parser->got_some())
                parser->put_eof(rec);
            else
                rec = http::error::end_of_stream;
        }
        else if (rec == asio::ssl::error::stream_truncated && parser->need_eof())
        {
            // A close-delimited body ended by a TCP close without close_notify: the JSON
            // parse below tells a complete body from a cut one.
            rec = {};
            parser->put_eof(rec);
        }
        if (rec || parser->is_done())
            break;
    }

    st.active = nullptr;
    if (rec)
    {
        // A fatal alert OpenSSL queued goes out if the socket takes it now; nothing waits.
        if (conn->is_tls() && !conn->tls_out.empty())
        {
            error_code ignored;
            conn->write_now(asio::buffer(conn->tls_out), ignored);
        }
        // What arrived before the failure still tells whether heartbeats were flowing.
        st.result.heartbeat_bytes = parts.heartbeat_bytes;
        if (parser->is_header_done())
        {
            st.result.heartbeat_applied = parts.heartbeat_applied();
            st.result.diag.http_status = parts.status;
            st.attempt_status = st.result.diag.http_status;
        }
        release(std::move(conn), false);
        if (st.cancelled)
            co_return attempt_result{errc::cancelled, {}, false};
        if (rec == beast::error::timeout)
            co_return attempt_result{
                timeout_kind(steady_clock::now(), attempt_deadline, call_deadline), {}, false};
        if (rec.category() == stackone_category())
            co_return attempt_result{rec, {}, false};
        if (rec == http::error::header_limit)
            co_return attempt_result{errc::header_too_large, {}, false};
        diag.detail = "read: " + rec.message();
        const bool header_done = parser->is_header_done();
        if (rec == http::error::end_of_stream || rec == asio::error::connection_reset ||
            rec == asio::error::eof || rec == asio::ssl::error::stream_truncated ||
            rec == http::error::partial_message || rec == asio::error::broken_pipe)
        {
            co_return attempt_result{
                header_done ? errc::truncated : errc::connection_closed, {}, false};
        }
        if (rec.category() == make_error_code(http::error::bad_version).category())
            co_return attempt_result{errc::malformed_response, {}, false};
        co_return attempt_result{
            header_done ? errc::truncated : errc::connection_closed, {}, false};
    }

    // A complete response: decide the outcome and whether the connection can be reused.
    const bool applied = parts.heartbeat_applied();
    std::string retry_after = parts.retry_after;
    diag.retry_after = retry_after;
    if (!parts.keep_alive.empty())
        conn->server_keep_alive = parse_keep_alive_timeout(parts.keep_alive);

    const auto heartbeat_bytes = parts.heartbeat_bytes;
    response_view view{parts.status, applied, parts.json, heartbeat_bytes};
    error_code outcome = classify_response(view, st.result);

    const bool reusable = parser->keep_alive() && !parser->need_eof() && conn->buffer.size() == 0 &&
                          (!conn->is_tls() || !conn->tls_input_ready());
    if (parts.json.capacity() > 64 * 1024)
        std::string().swap(parts.json); // a large body's buffer is not kept with the connection
    release(std::move(conn), reusable);

    co_return attempt_result{outcome, std::move(retry_after), applied || heartbeat_bytes > 0};
}

// Sleeps until @p until unless the call is cancelled first; false when cancelled.
inline asio::awaitable<bool> client_impl::sleep_until(call_state& st,
                                                      steady_clock::time_point until)
{
    asio::steady_timer timer(io_ex_, until);
    st.sleeping = &timer;
    co_await timer.async_wait(tuple_awaitable);
    st.sleeping = nullptr;
    co_return !st.cancelled;
}

// When the next attempt may start: after another call's 429 pause for the same account (first
// attempts only: a retry already waits its own delay) and after the pacer's next slot.
inline steady_clock::time_point client_impl::attempt_start(const call_state& st, int attempt)
{
    auto start = steady_clock::now();
    if (attempt == 1)
    {
        if (auto it = account_pauses_.find(st.call.account_id);
            it != account_pauses_.end() && it->second > start)
        {
            start = it->second;
            update_stats([](pool_stats& s) { ++s.rate_limit_waits; });
        }
    }
    if (pacer_.enabled())
    {
        const auto slot = pacer_.reserve(start);
        if (slot > start)
            update_stats([](pool_stats& s) { ++s.paced_waits; });
        start = slot;
    }
    return start;
}

// A 429 with a readable Retry-After pauses new calls for the same account, so they do not each
// discover the limit on their own.
inline void client_impl::note_rate_limit(const call_state& st,
                                         const retry_options& retry,
                                         std::string_view retry_after)
{
    auto delay = parse_retry_after(retry_after, std::chrono::system_clock::now());
    if (!delay)
        return;
    auto pause = std::chrono::milliseconds(*delay);
    if (retry.max_retry_after.count() > 0)
        pause = std::min<std::chrono::milliseconds>(pause, retry.max_retry_after);
    auto& until = account_pauses_[st.call.account_id];
    until = std::max(until, steady_clock::now() + pause);
}

inline asio::awaitable<void> client_impl::run_call(std::shared_ptr<call_state> st)
{
    auto self = shared_from_this();
    const retry_options& retry = st->call.retry ? *st->call.retry : opts_.retry;
    const auto start = steady_clock::now();
    const auto call_deadline = deadline_from(start, st->call.deadline);
    diagnostics& diag = st->result.diag;
    active_calls_.push_back(*st);
    auto previous_end = start; // for attempt_event::waited

    error_code final_ec;
    for (int attempt = 1;; ++attempt)
    {
        if (shutting_down_ && attempt == 1)
        {
            final_ec = errc::shutting_down;
            break;
        }
        // Wait for the account's 429 pause and the pacer, never past the deadline.
        const auto not_before = attempt_start(*st, attempt);
        if (not_before >= call_deadline)
        {
            final_ec = errc::deadline_exceeded;
            break;
        }
        if (not_before > steady_clock::now())
        {
            const bool woke = co_await sleep_until(*st, not_before);
            if (!woke)
            {
                final_ec = errc::cancelled;
                break;
            }
        }
        if (st->cancelled)
        {
            final_ec = errc::cancelled;
            break;
        }

        diag.attempts = attempt;
        const auto attempt_begin = steady_clock::now();
        const auto attempt_deadline = deadline_from(attempt_begin, retry.attempt_timeout);
        auto outcome = co_await run_attempt(*st, attempt, attempt_deadline, call_deadline);
        const auto attempt_end = steady_clock::now();
        const auto waited = attempt_begin - previous_end; // backoff, 429 pause and pacer
        previous_end = attempt_end;

        // One observer event per attempt made, with the retry decision when there is one.
        auto report = [&](const error_code& ec, std::chrono::milliseconds retry_delay) {
            if (!opts_.on_attempt)
                return;
            attempt_event ev;
            ev.candidate_id = st->call.candidate_id;
            ev.account_id = st->call.account_id;
            ev.attempt = attempt;
            ev.ec = ec;
            if (!ec)
                ev.status = st->result.status;
            else if (is_http_error(ec))
                ev.status = ec.value();
            else
                ev.status = st->attempt_status;
            ev.latency = attempt_end - attempt_begin;
            ev.waited = waited;
            ev.will_retry = retry_delay.count() >= 0;
            ev.retry_delay = ev.will_retry ? retry_delay : std::chrono::milliseconds(0);
            ev.heartbeat_bytes = st->result.heartbeat_bytes;
            ev.heartbeat_applied = st->result.heartbeat_applied;
            ev.connection_reused = st->attempt_reused;
            ev.request_sent = st->attempt_sent;
            notify_attempt(ev);
        };
        constexpr std::chrono::milliseconds no_retry{-1};

        if (!outcome.ec)
        {
            budget_.on_success();
            report(outcome.ec, no_retry);
            break;
        }
        if (st->cancelled || outcome.ec == errc::cancelled)
        {
            final_ec = errc::cancelled;
            report(final_ec, no_retry);
            break;
        }
        if (outcome.ec == make_http_error(429) && opts_.pause_account_on_429)
            note_rate_limit(*st, retry, outcome.retry_after);

        attempt_outcome ao{outcome.ec,
                           diag.may_have_been_processed,
                           outcome.retry_after,
                           outcome.headers_fixed_early};
        auto decision = decide_retry(retry,
                                     attempt,
                                     ao,
                                     random_unit(retry),
                                     steady_clock::now(),
                                     call_deadline,
                                     std::chrono::system_clock::now());
        if (decision.retry && !budget_.try_spend())
        {
            decision.retry = false;
            decision.final_ec = errc::retry_budget_exhausted;
            decision.reason = "retry budget exhausted";
            update_stats([](pool_stats& s) { ++s.budget_exhausted; });
        }
        if (!decision.retry)
        {
            log(decision.final_ec == outcome.ec ? log_level::debug : log_level::info,
                "not retrying candidate ",
                st->call.candidate_id,
                " after ",
                outcome.ec.message(),
                " (",
                decision.reason,
                ")");
            final_ec = decision.final_ec;
            report(outcome.ec, no_retry);
            break;
        }
        report(outcome.ec, decision.delay);

        log(log_level::info,
            "retrying candidate ",
            st->call.candidate_id,
            " after ",
            outcome.ec.message(),
            ": waiting ",
            std::to_string(decision.delay.count()),
            " ms (",
            decision.reason,
            ")");
        update_stats([](pool_stats& s) { ++s.retries; });
        // A replayed 408 may create the note twice: the first attempt may have run.
        if (outcome.ec == make_http_error(408))
            diag.possible_duplicate = true;
        diag.may_have_been_processed = diag.possible_duplicate;

        const bool woke = co_await sleep_until(*st, steady_clock::now() + decision.delay);
        if (!woke)
        {
            final_ec = errc::cancelled;
            break;
        }
    }

    // An earlier attempt that may have run still counts after a later clean failure.
    diag.may_have_been_processed = diag.may_have_been_processed || diag.possible_duplicate;
    if (!final_ec)
        diag.may_have_been_processed = true;

    active_calls_.erase(active_calls_.iterator_to(*st));
    if (drain_timer_ && active_calls_.empty())
        drain_timer_->cancel();

    // The result stays in the call state until the handler takes it: each move of a
    // create_result moves a dozen strings and JSON values.
    // The handler leaves the state here, on the strand: a late cancellation looks at it.
    auto handler_ex = asio::get_associated_executor(*st->handler, io_ex_);
    asio::dispatch(handler_ex, [handler = std::move(*st->handler), st, final_ec]() mutable {
        std::move(handler)(final_ec, std::move(st->result));
    });
}

} // namespace detail

namespace detail {

// Validates the arguments and renders the request into @p call (call.ec when refused).
inline void fill_call(prepared_call& call,
                      const client_impl& impl,
                      std::string_view candidate_id,
                      const note& n,
                      const call_options& opts)
{
    const client_options& copts = impl.options();
    call.candidate_id = std::string(candidate_id);

    // Everything is checked before any byte could be sent.
    if (!is_valid_candidate_id(candidate_id))
    {
        call.ec = errc::invalid_candidate_id;
        return;
    }
    const std::string& account = opts.account_id.empty() ? copts.account_id : opts.account_id;
    if (account.empty())
    {
        call.ec = errc::missing_account_id;
        return;
    }
    if (!is_valid_header_value(account))
    {
        call.ec = errc::invalid_header_value;
        call.detail = "x-account-id";
        return;
    }
    if (copts.api_key.empty())
    {
        call.ec = errc::missing_api_key;
        return;
    }

    // Boost.JSON would write an infinite or NaN double as `Infinity` or `NaN`: no JSON parser
    // takes that body. The detail names where it is, as a JSON Pointer into the body.
    if (auto at = find_non_finite_number(n))
    {
        call.ec = errc::non_finite_number;
        call.detail = std::move(*at);
        return;
    }

    call.account_id = account;
    call.heartbeat = opts.heartbeat.value_or(copts.heartbeat);
    call.deadline = opts.deadline.value_or(copts.deadline);
    call.retry = opts.retry;

    // The body is built in a per-thread scratch string (no allocation once it has grown),
    // then copied once into the request.
    thread_local std::string body;
    body.clear();
    serialize_note(n, body);
    call.request = render_request(impl.target(),
                                  impl.fixed_headers(),
                                  encode_path_segment(candidate_id),
                                  account,
                                  call.heartbeat,
                                  body);
    if (body.capacity() > 64 * 1024)
        std::string().swap(body); // a large note's buffer is not kept
}

} // namespace detail

STACKONE_DECL detail::call_handle detail::prepare_call(const client_impl& impl,
                                                       std::string_view candidate_id,
                                                       const note& n,
                                                       const call_options& opts)
{
    auto st = std::make_shared<call_state>();
    fill_call(st->call, impl, candidate_id, n, opts);
    return call_handle(std::move(st));
}

STACKONE_DECL std::shared_ptr<detail::call_state>
detail::call_handle::copy_of(const call_handle& other)
{
    if (!other.state_)
        return nullptr;
    auto st = std::make_shared<call_state>();
    st->call = other.state_->call;
    return st;
}

STACKONE_DECL void
detail::start_call(std::shared_ptr<client_impl> impl, call_handle call, create_handler handler)
{
    auto st = std::move(call).release();
    if (!st) // a moved-from handle: nothing to send
    {
        st = std::make_shared<call_state>();
        st->call.ec = errc::internal_error;
    }
    // Refused arguments complete at once, through the handler's executor, never inline.
    if (st->call.ec)
    {
        auto handler_ex = asio::get_associated_executor(handler, impl->executor());
        create_result result;
        result.diag.detail = std::move(st->call.detail);
        asio::post(impl->io_executor(),
                   [handler_ex,
                    handler = std::move(handler),
                    ec = st->call.ec,
                    r = std::move(result)]() mutable {
                       asio::dispatch(
                           handler_ex,
                           [handler = std::move(handler), ec, r = std::move(r)]() mutable {
                               std::move(handler)(ec, std::move(r));
                           });
                   });
        return;
    }

    auto slot = asio::get_associated_cancellation_slot(handler);
    st->handler.emplace(std::move(handler));

    // Cancellation may be emitted from any thread: it is carried over to the strand.
    if (slot.is_connected())
    {
        std::weak_ptr<call_state> weak = st;
        slot.assign([impl, weak](asio::cancellation_type type) {
            if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none)
                return;
            asio::post(impl->io_executor(), [impl, weak] {
                if (auto s = weak.lock(); s && s->has_handler())
                    impl->cancel(*s);
            });
        });
    }

    asio::co_spawn(impl->io_executor(), impl->run_call(st), [impl, st](std::exception_ptr ep) {
        // Only a bug can throw out of run_call; the caller still gets an answer.
        if (ep && st->has_handler())
        {
            auto h = std::move(*st->handler);
            auto ex = asio::get_associated_executor(h, impl->io_executor());
            asio::dispatch(ex, [h = std::move(h)]() mutable {
                std::move(h)(errc::internal_error, create_result{});
            });
        }
    });
}

STACKONE_DECL void detail::start_shutdown(std::shared_ptr<client_impl> impl,
                                          std::chrono::milliseconds grace,
                                          shutdown_handler handler)
{
    auto strand = impl->io_executor();
    asio::co_spawn(strand,
                   impl->shutdown(grace),
                   [impl, handler = std::move(handler)](std::exception_ptr ep) mutable {
                       auto ex = asio::get_associated_executor(handler, impl->io_executor());
                       const error_code ec =
                           ep ? make_error_code(errc::internal_error) : error_code();
                       asio::dispatch(ex, [handler = std::move(handler), ec]() mutable {
                           std::move(handler)(ec);
                       });
                   });
}

STACKONE_DECL client::client(executor_type ex, client_options opts)
{
    std::string_view why;
    auto parsed = detail::parse_base_url(opts.base_url, &why);
    if (!parsed)
    {
        diagnostics diag;
        // The reason alone, not the URL: its user info or query may hold a secret.
        diag.detail = std::string(why);
        throw error(errc::invalid_base_url, std::move(diag));
    }
    impl_ = std::make_shared<detail::client_impl>(std::move(ex), std::move(opts), *parsed);
}

STACKONE_DECL client::~client()
{
    if (!impl_)
        return;
    // Idle connections are closed on the strand; calls in flight keep the state alive and
    // finish normally.
    auto impl = std::move(impl_);
    boost::asio::dispatch(impl->io_executor(), [impl] { impl->shut_down(); });
}

STACKONE_DECL client::executor_type client::get_executor() const noexcept
{
    return impl_->executor();
}

STACKONE_DECL boost::asio::awaitable<create_result>
client::create_candidate_note(std::string candidate_id, note n, call_options opts)
{
    // No structured bindings here: g++ 12 mishandles them in a coroutine that throws.
    std::tuple<error_code, create_result> outcome = co_await async_create_candidate_note(
        candidate_id, n, opts, boost::asio::as_tuple(boost::asio::use_awaitable));
    if (std::get<0>(outcome))
        throw error(std::get<0>(outcome), std::move(std::get<1>(outcome).diag));
    co_return std::move(std::get<1>(outcome));
}

STACKONE_DECL pool_stats client::stats() const
{
    return impl_->stats();
}

STACKONE_DECL const client_options& client::options() const noexcept
{
    return impl_->options();
}

} // namespace stackone

#endif
