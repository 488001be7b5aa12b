// The cluster tests' main: refuses any kubeconfig but the test cluster's before a test runs.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test/cli/cluster_fixture.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  if (!eso::test::lists_only(argc, argv)) eso::test::require_test_cluster();
  return eso::test::run_and_clean_up(context);
}
