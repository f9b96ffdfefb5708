//
// field<T>: a JSON member that can be absent, explicitly null, or hold a value.
//
#ifndef STACKONE_FIELD_HPP
#define STACKONE_FIELD_HPP

#include <concepts>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace stackone {

/// Tag type for an explicit JSON `null`.
struct null_t
{
    explicit constexpr null_t(int) noexcept {}
    friend constexpr bool operator==(null_t, null_t) noexcept { return true; }
};

/// The explicit JSON `null`: `note.author_id = stackone::null;`.
inline constexpr null_t null{0};

/**
 * @brief A JSON object member with three states: absent, `null`, or a value.
 *
 * The API treats an omitted member and a `null` member differently (a `null` clears a value at
 * the provider), so the models keep the two apart instead of folding both into
 * `std::optional`.
 *
 * @par Example
 * @code
 * stackone::field<std::string> author;      // absent: not serialized
 * author = stackone::null;                   // serialized as "author_id":null
 * author = "u-42";                           // serialized as "author_id":"u-42"
 * @endcode
 */
template <class T>
class field
{
public:
    /// Constructs an absent field.
    constexpr field() noexcept = default;

    /// Constructs an explicit `null`.
    constexpr field(null_t) noexcept : is_null_(true) {}

    /// Constructs a field holding a value.
    template <class U = T>
    requires std::constructible_from<T, U&&> &&(!std::same_as<std::remove_cvref_t<U>, field>)&&(
        !std::same_as<std::remove_cvref_t<U>, null_t>)constexpr field(U&& value)
        : value_(std::forward<U>(value))
    {}

    /// True when the member is to be omitted.
    constexpr bool is_absent() const noexcept { return !is_null_ && !value_; }

    /// True when the member is an explicit `null`.
    constexpr bool is_null() const noexcept { return is_null_; }

    /// True when the member holds a value.
    constexpr bool has_value() const noexcept { return value_.has_value(); }

    /// The value. @throws std::logic_error when absent or null.
    const T& value() const&
    {
        if (!value_)
            throw std::logic_error("stackone::field: no value (absent or null)");
        return *value_;
    }

    /// The value. @throws std::logic_error when absent or null.
    T& value() &
    {
        if (!value_)
            throw std::logic_error("stackone::field: no value (absent or null)");
        return *value_;
    }

    /// A pointer to the value, or nullptr when absent or null.
    const T* get_if() const noexcept { return value_ ? &*value_ : nullptr; }

    /// The value, or @p fallback when absent or null.
    T value_or(T fallback) const { return value_ ? *value_ : std::move(fallback); }

    /// Makes the field absent again.
    void reset() noexcept
    {
        value_.reset();
        is_null_ = false;
    }

    friend bool operator==(const field&, const field&) = default;

private:
    bool is_null_ = false;
    std::optional<T> value_;
};

} // namespace stackone

#endif
