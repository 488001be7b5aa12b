#pragma once

#include <string>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "core/external_secret.h"

namespace eso::test {

/// Parses an ExternalSecret from JSON text, failing the test when it does not parse.
inline ExternalSecret es_from_json(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  auto es = parse_external_secret(doc);
  REQUIRE(es.ok());
  return *es;
}

}  // namespace eso::test
