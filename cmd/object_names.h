#pragma once

#include <string>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "core/external_secret.h"

namespace eso::cmd {

/// kubectl's `-o name` form: `externalsecret.external-secrets.io/db-creds`.
std::string qualified_name(const ObjectRef& ref);

/// Writes `"kind", "namespace", "name"` members into the current JSON object.
void write_object_ref(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w, const ObjectRef& ref);

}  // namespace eso::cmd
