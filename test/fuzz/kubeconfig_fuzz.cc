// libFuzzer target: the kubeconfig loader turns any file into a configuration or a clear error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "kube/client_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    char name[] = "/tmp/eso-kubeconfig-fuzz-XXXXXX";
    const int fd = ::mkstemp(name);
    ::close(fd);
    return std::string(name);
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  eso::kube::ConfigOverrides overrides;
  overrides.kubeconfig = path;
  auto config = eso::kube::load_client_config(
      overrides, [](const std::string&) { return std::optional<std::string>(); });
  if (!config && config.error().message.empty()) __builtin_trap();
  return 0;
}
