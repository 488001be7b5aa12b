#pragma once

#include <chrono>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <CLI/CLI.hpp>

#include "cmd/global_options.h"
#include "core/pipeline.h"
#include "core/result.h"

namespace eso::cmd {

/// Where `trigger --server` sends its request (DESIGN.md §11): serve's trigger API, with a token
/// from a file or ESO_UPDATER_TOKEN (never argv) and, for HTTPS, an optional CA bundle.
struct ServerTarget {
  std::string url;         ///< e.g. https://eso-updater.example/ (path /v1/trigger is added)
  std::string token_file;  ///< else the environment variable ESO_UPDATER_TOKEN
  std::string ca_file;     ///< PEM CAs for an HTTPS server; default: the system's
};

/// Registers --server, --token-file and --server-ca on a subcommand; `what` says what --server
/// does ("Trigger", "Match").
void add_server_options(CLI::App& command, ServerTarget& target, const std::string& what);

/// An answer of the trigger API: its status and body.
struct ServerAnswer {
  int status = 0;
  std::string body;
};

/// POSTs `body` to URL + `path` (/v1/trigger or /v1/match) with the token. Errors say what to
/// fix: no token, the server unreachable or its certificate not trusted. `timeout` bounds the
/// whole exchange.
Result<ServerAnswer> post_to_server(const ServerTarget& target, const std::string& path,
                                    const std::string& body, std::chrono::milliseconds timeout);

/// The error a non-report answer stands for: the token refused (401), no trigger API at the URL
/// (an older serve, or not eso-updater: 404/405), a refused request (400/403/422, with the
/// server's message), or the server not ready (503).
Error server_error(const ServerTarget& target, const std::string& path, const ServerAnswer& answer);

/// The scope both APIs take, written into an open request object: keys, the namespaces of -n
/// (none with -A: serve's own), and the store, storeKind and provider that are set.
void write_request_scope(rapidjson::Writer<rapidjson::StringBuffer>& w, const GlobalOptions& global,
                         const KeySet& keys, const StoreScopeOptions& scope);

/// A string member of an answer's object; empty when it is missing or not a string.
std::string json_text(const rapidjson::Value& o, const char* name);

}  // namespace eso::cmd
