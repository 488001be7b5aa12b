#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eso {

/// An event that carried no key eso-updater acts on, and why.
struct IgnoredEvent {
  std::string event_type;
  std::string reason;
};

/// The keys a secret-change notification names (DESIGN.md §7).
struct DecodedEvents {
  std::string source;             ///< the decoder that read the body, e.g. `akeyless`
  size_t events = 0;              ///< events in the body
  std::vector<std::string> keys;  ///< de-duplicated, in first-seen order
  std::vector<IgnoredEvent> ignored;
  /// Events seen per event type (acted on or not); "" for events without a type.
  std::map<std::string, size_t> types;
  std::string store;     ///< generic format: optional store name to scope to
  std::string provider;  ///< generic format: optional provider to scope to
};

struct DecodeOptions {
  /// Event types acted on; empty means the defaults of each source (Akeyless:
  /// static-secret-updated, rotated-secret-success). Events without a type are acted on.
  std::vector<std::string> event_types;
  size_t max_events = 10000;  ///< a body with more events is rejected
};

/// One event format: its name (as in `POST /webhook/<source>` and `--event-source`), whether a
/// parsed body looks like it, and how to read it.
struct EventSource {
  std::string_view name;
  std::string_view description;
};

/// The formats eso-updater reads, in auto-detection order.
std::span<const EventSource> event_sources();

/// Decodes a notification body (JSON) with the decoder `source`, or the first whose shape fits
/// when `source` is empty. Pure: bytes in, keys or an error out. Malformed JSON, an unknown
/// source, a body no decoder recognises and too many events are kInvalidArgument errors with a
/// message fit for an HTTP 400/422 body.
Result<DecodedEvents> decode_events(std::string_view body, std::string_view source,
                                    const DecodeOptions& options = {});

}  // namespace eso
