#pragma once

#include <string>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "core/external_secret.h"
#include "core/json_report.h"

namespace eso::cmd {

/// kubectl's `-o name` form: `externalsecret.external-secrets.io/db-creds`.
std::string qualified_name(const ObjectRef& ref);

}  // namespace eso::cmd
