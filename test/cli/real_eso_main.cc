// The real-controller tests run against the cluster named by ESO_TEST_REAL_KUBECONFIG when it is
// set (a second test cluster started with ESO_CONTROLLER=real, so the real controller never
// touches the objects of tests that script ESO's part), else against KUBECONFIG.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdlib>

#include <doctest/doctest.h>

#include "test/cli/cluster_fixture.h"

int main(int argc, char** argv) {
  if (const char* real = std::getenv("ESO_TEST_REAL_KUBECONFIG"); real != nullptr && *real) {
    ::setenv("KUBECONFIG", real, 1);
  }
  doctest::Context context(argc, argv);
  if (!eso::test::lists_only(argc, argv)) eso::test::require_test_cluster();
  return eso::test::run_and_clean_up(context);
}
