//
// What a create call produces.
//
#ifndef STACKONE_CREATE_RESULT_HPP
#define STACKONE_CREATE_RESULT_HPP

#include <stackone/error.hpp>
#include <stackone/field.hpp>

#include <boost/json/object.hpp>

#include <cstddef>
#include <string>

namespace stackone {

/**
 * @brief The outcome of create_candidate_note.
 *
 * On success the members mirror `CreateResult`; `raw` keeps the whole body, unknown members
 * included. On failure (an error_code was delivered with it) only `diag` is meaningful.
 */
struct create_result
{
    /// The outcome status: the body's `statusCode` when it decided, else the status line.
    int status = 0;

    /// `data.id`: absent, null or the unified id.
    field<std::string> id;

    /// `data.remote_id`: absent, null or the provider's id.
    field<std::string> remote_id;

    /// `message`.
    std::string message;

    /// `timestamp`, as received (not validated).
    std::string timestamp;

    /// The whole response body. Its values live in one arena that belongs to the body (a
    /// shared memory resource: copies made with the same storage share it, and it is freed
    /// with the last of them). Copying it is safe from any number of threads, but the arena
    /// never reuses memory: to edit the body, or to keep many copies, copy it into your own
    /// storage (`boost::json::object copy(result.raw, {})`).
    boost::json::object raw;

    /// True when the server answered `Preference-Applied: heartbeat`.
    bool heartbeat_applied = false;

    /// Heartbeat (leading whitespace) bytes received before the JSON.
    std::size_t heartbeat_bytes = 0;

    /// Attempts, diagnostics and the may-have-been-processed flags.
    diagnostics diag;
};

} // namespace stackone

#endif
