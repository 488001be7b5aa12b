// libFuzzer target: the trigger API's request parser (POST /v1/trigger and /v1/match) turns any
// body into a request within its limits or a clear error, with and without a namespace
// restriction; the error answers that quote it stay valid JSON.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rapidjson/document.h"
#include "webhook/responses.h"
#include "webhook/trigger_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  eso::webhook::TriggerApiOptions open;
  open.max_keys = 8;
  eso::webhook::TriggerApiOptions restricted = open;
  restricted.namespaces = {"team-a", "team-b"};
  restricted.max_wait = std::chrono::seconds(30);
  for (const auto* options : {&open, &restricted}) {
    for (const bool match : {false, true}) {
      const auto request = eso::webhook::parse_trigger_request(body, *options, match);
      if (!request) {
        if (request.error().message.empty()) __builtin_trap();
        // The answer quotes parts of the body: it stays valid JSON in valid UTF-8.
        const auto answer = eso::webhook::error_response(422, request.error().message);
        rapidjson::Document doc;
        doc.Parse<rapidjson::kParseValidateEncodingFlag>(answer.body.data(), answer.body.size());
        if (doc.HasParseError()) __builtin_trap();
        continue;
      }
      // What the parser accepts is inside the limits the handler relies on.
      if (request->keys.empty() || request->keys.size() > options->max_keys) __builtin_trap();
      if (request->wait > options->max_wait || request->wait.count() < 0) __builtin_trap();
      if (match && (request->dry_run || request->force || request->wait.count() != 0)) {
        __builtin_trap();
      }
      if (!options->namespaces.empty()) {
        for (const auto& ns : request->namespaces) {
          if (ns != "team-a" && ns != "team-b") __builtin_trap();
        }
      }
    }
  }
  return 0;
}
