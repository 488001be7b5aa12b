// The command-line tests' main: no cluster; temporary files removed when every test passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test/cli/cluster_fixture.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  return eso::test::run_and_clean_up(context);
}
