// The integration suite: the client against the mock server over real loopback sockets.
#define BOOST_TEST_MODULE stackone_integration
#include <boost/test/unit_test.hpp>
