#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eso::webhook {

/// The senders whose deliveries carry an id that a redelivery repeats.
enum class DeliverySource {
  kPubSub,       ///< message.messageId (or message.message_id)
  kSns,          ///< MessageId
  kEventGrid,    ///< id of each event (the body is an array)
  kCloudEvents,  ///< source and id: ce-source/ce-id headers (binary), or the body's members
  kAkeyless,     ///< event_id of each event, in any of the three envelopes
};

/// Request headers, names in lower case (as RequestHead holds them).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// The id of one delivery, for DeliveryMemory: prefixed by its source so ids of different
/// senders never collide. A batch's id joins its events' ids (a redelivery repeats the batch).
/// nullopt when the body does not parse, an event has no id, or the id is longer than 1 KiB:
/// such a request is processed without de-duplication. Pure; never throws.
std::optional<std::string> delivery_id(DeliverySource source, std::string_view body,
                                       const HeaderList& headers = {});

}  // namespace eso::webhook
