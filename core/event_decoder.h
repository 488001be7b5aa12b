#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace eso {

/// An event that carried no key eso-updater acts on, and why.
struct IgnoredEvent {
  std::string event_type;
  std::string reason;
};

/// A whole configuration changed, its secrets unnamed (Doppler's default payload): every entry
/// reading a store of `provider` for that project and config is affected.
struct ConfigScope {
  std::string provider;               ///< the ESO provider key, e.g. `doppler`
  std::vector<std::string> projects;  ///< the names the sender gives the project (id, slug, name)
  std::string config;
  bool operator==(const ConfigScope&) const = default;
};

/// A handshake answer a sender expects instead of a report (Azure Event Grid's
/// SubscriptionValidation): sent as is, nothing is matched or patched.
struct EventReply {
  int status = 200;
  std::string body;
};

/// The keys a secret-change notification names (DESIGN.md §7).
struct DecodedEvents {
  std::string source;             ///< the decoder that read the body, e.g. `akeyless`
  size_t events = 0;              ///< events in the body
  std::vector<std::string> keys;  ///< de-duplicated, in first-seen order
  /// Folders whose secrets changed, for senders that name no secret (Infisical): a key matches
  /// when it lies directly in one, a `find.path` when it contains one.
  std::vector<std::string> paths;
  /// Configurations that changed as a whole (Doppler without a diff).
  std::vector<ConfigScope> configs;
  std::vector<IgnoredEvent> ignored;
  /// Events seen per event type (acted on or not); "" for events without a type.
  std::map<std::string, size_t> types;
  std::string environment;  ///< Infisical: the environment the folder's secrets changed in
  std::string store;        ///< generic format: optional store name to scope to
  std::string provider;     ///< generic format: optional provider to scope to
  /// The key rule (key_rules.h) the keys are compared under when an entry's store is unknown:
  /// the source's own (`aws` for EventBridge, `azurekv` for Event Grid, `gcpsm` for Pub/Sub,
  /// `akeyless`), a generic body's `provider`, or "" for the exact rule (DESIGN.md §3).
  std::string key_rule;
  std::optional<EventReply> reply;
};

struct DecodeOptions {
  /// Event types acted on, for every source; empty means each source's defaults (e.g. Akeyless
  /// static-secret-updated and rotated-secret-success, GCP SECRET_VERSION_ADD). Events without
  /// a type are acted on.
  std::vector<std::string> event_types;
  size_t max_events = 10000;  ///< a body with more events is rejected
  size_t max_keys = 10000;    ///< a body naming more distinct keys is rejected
  /// Dotted paths to the key in bodies no decoder recognises (`detail.name`, `items[].path`);
  /// with any set, such bodies are read by the `generic` decoder.
  std::vector<std::string> key_paths;
  /// CloudEvents: where the key is in `data` (a dotted path); empty: the event's `subject`.
  std::string cloudevents_key_path;
  /// Signed senders: how far a signature's timestamp may be from now.
  std::chrono::seconds signature_tolerance{300};
};

/// One notification as it arrived: the raw body, its headers (for CloudEvents' binary mode and
/// senders that sign), and the secrets signatures are checked with.
struct EventRequest {
  std::string_view body;
  /// A header's value by its lower-case name, or nullptr; may be empty (a file has no headers).
  std::function<const std::string*(std::string_view)> header;
  /// Signing secrets by source (`doppler`, `infisical`): when one is set, that source's
  /// requests must carry a valid signature.
  std::map<std::string, std::string, std::less<>> signing_secrets;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

/// One event format: its name (as in `POST /webhook/<source>` and `--event-source`) and what it
/// reads.
struct EventSource {
  std::string_view name;
  std::string_view description;
};

/// The formats eso-updater reads, in auto-detection order.
std::span<const EventSource> event_sources();

/// Decodes a notification with the decoder `source`, or the first whose shape fits when
/// `source` is empty. Pure: bytes in, keys or an error out. Errors carry a message fit for an
/// HTTP body: kMalformed for bytes that are not JSON, kInvalidArgument for bodies no decoder can
/// use, kNotFound for an unknown source, kUnauthorized for a missing, wrong or
/// stale signature.
Result<DecodedEvents> decode_events(const EventRequest& request, std::string_view source,
                                    const DecodeOptions& options = {});

/// The same for a body without headers (`trigger --event`, tests).
Result<DecodedEvents> decode_events(std::string_view body, std::string_view source,
                                    const DecodeOptions& options = {});

/// Lower-case hex HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace eso
