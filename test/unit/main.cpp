// The unit suite: sans-I/O pieces only. No sockets, no sleeps.
#define BOOST_TEST_MODULE stackone_unit
#include <boost/test/unit_test.hpp>
