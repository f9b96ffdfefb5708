// Shared by the example programs: client options from the environment.
#ifndef STACKONE_EXAMPLES_EXAMPLE_ENV_HPP
#define STACKONE_EXAMPLES_EXAMPLE_ENV_HPP

#include <stackone/options.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace example {

inline std::string env_or(const char* name, const char* fallback)
{
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

// Secrets come from the environment, never from the command line (visible in `ps`):
// STACKONE_API_KEY, STACKONE_ACCOUNT_ID, STACKONE_BASE_URL and STACKONE_CA_FILE. Says what is
// missing and returns nothing when the key or the account is not set.
inline std::optional<stackone::client_options> options_from_env()
{
    stackone::client_options options;
    options.api_key = env_or("STACKONE_API_KEY", "");
    options.account_id = env_or("STACKONE_ACCOUNT_ID", "");
    options.base_url = env_or("STACKONE_BASE_URL", "https://api.stackone.com");
    options.tls.ca_file = env_or("STACKONE_CA_FILE", "");
    if (options.api_key.empty() || options.account_id.empty())
    {
        std::cerr << "set STACKONE_API_KEY and STACKONE_ACCOUNT_ID\n";
        return std::nullopt;
    }
    return options;
}

} // namespace example

#endif
