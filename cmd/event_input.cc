#include "cmd/event_input.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/event_decoder.h"

namespace eso::cmd {
namespace {

constexpr size_t kMaxEventBytes = size_t{16} << 20;

Result<std::string> read_payload(const std::string& path) {
  std::string body;
  std::istream* in = &std::cin;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("--event {}: {}", path, std::strerror(errno))};
    }
    in = &file;
  }
  char buf[65536];
  while (in->read(buf, sizeof buf) || in->gcount() > 0) {
    body.append(buf, static_cast<size_t>(in->gcount()));
    if (body.size() > kMaxEventBytes) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("--event {}: larger than {} MiB", path, kMaxEventBytes >> 20)};
    }
  }
  return body;
}

}  // namespace

void add_key_input_options(CLI::App& command, KeyInput& input, const std::string& key_help) {
  command.add_option("-k,--key", input.keys, key_help);
  command.add_option("--event", input.event_file,
                     "Read keys from a notification payload in FILE ('-' for stdin), as serve "
                     "receives it");
  std::string sources;
  for (const auto& s : event_sources())
    sources += (sources.empty() ? "" : ", ") + std::string(s.name);
  command.add_option("--event-source", input.event_source,
                     "Format of --event: " + sources + " (default: detected)");
  command.add_option("--key-path", input.key_paths,
                     "Where the key is in an --event body of no known format, as a dotted path "
                     "(detail.name, items[].path); repeatable");
}

Result<KeySet> collect_keys(const KeyInput& input, StoreScopeOptions& scope) {
  KeySet keys{input.keys, {}, {}, {}};
  if (input.event_file.empty()) {
    if (keys.keys.empty()) return Error{ErrorCode::kInvalidArgument, "give --key or --event"};
    return keys;
  }
  auto body = read_payload(input.event_file);
  if (!body) return body.error();
  DecodeOptions options;
  options.key_paths = input.key_paths;
  auto decoded = decode_events(*body, input.event_source, options);
  if (!decoded) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("--event {}: {}", input.event_file, decoded.error().message)};
  }
  fmt::print(stderr, "event: {} format, {} event(s), {} key(s)", decoded->source, decoded->events,
             decoded->keys.size());
  if (!decoded->paths.empty()) {
    fmt::print(stderr, ", folder(s) {}", fmt::join(decoded->paths, ", "));
  }
  for (const auto& ignored : decoded->ignored) {
    fmt::print(stderr, "; ignored {}: {}",
               ignored.event_type.empty() ? std::string("an event") : ignored.event_type,
               ignored.reason);
  }
  fmt::print(stderr, "\n");
  KeySet from_event = key_set(*decoded);
  from_event.keys.insert(from_event.keys.begin(), input.keys.begin(), input.keys.end());
  keys = std::move(from_event);
  for (const auto& c : decoded->configs) {
    fmt::print(stderr,
               "event: {} config {} changed without secret names; entries of the stores that "
               "--store names, or that --provider {} finds, match\n",
               c.provider, c.config, c.provider);
  }
  if (scope.store.empty()) scope.store = decoded->store;
  if (scope.provider.empty()) scope.provider = decoded->provider;
  return keys;
}

}  // namespace eso::cmd
