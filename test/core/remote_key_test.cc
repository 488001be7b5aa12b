#include "core/remote_key.h"

#include <doctest/doctest.h>

namespace eso {

TEST_CASE("Akeyless keys normalise to one leading slash and no trailing slash") {
  const std::pair<const char*, const char*> cases[] = {
      {"db/pass", "/db/pass"},
      {"/db/pass", "/db/pass"},
      {"//db/pass/", "/db/pass"},
      {"/", "/"},
      {"", "/"},
      {"a", "/a"},
      {"/prod/db//x", "/prod/db//x"},
  };
  for (const auto& [in, want] : cases) {
    CAPTURE(in);
    CHECK(normalise_akeyless_key(in) == want);
  }
}

}  // namespace eso
