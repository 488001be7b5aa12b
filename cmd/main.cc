// eso-updater: makes the External Secrets Operator re-sync a changed secret now.
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cmd/completion_scripts.h"
#include "cmd/exit_code.h"
#include "cmd/global_options.h"
#include "cmd/match_command.h"
#include "cmd/serve_command.h"
#include "cmd/trigger_command.h"
#include "core/version.h"

namespace {

// The one error boundary: an exception nobody handled (from main's thread, or from any other
// thread, where it would end in std::terminate) is reported in one line, never as an abort.
void report_internal_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    fmt::print(stderr, "eso-updater: internal error: {}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "eso-updater: internal error: an unknown exception\n");
  }
}

[[noreturn]] void on_terminate() {
  if (const auto error = std::current_exception()) {
    report_internal_error(error);
  } else {
    fmt::print(stderr, "eso-updater: internal error: terminated\n");
  }
  std::_Exit(eso::cmd::kExitInternal);
}

// Tests prove the boundary with ESO_UPDATER_TEST_CRASH=main|thread: an exception thrown on the
// main thread or on another one.
void crash_for_tests() {
  const char* where = std::getenv("ESO_UPDATER_TEST_CRASH");
  if (where == nullptr) return;
  if (std::string_view(where) == "thread") {
    std::thread([] { throw std::runtime_error("test crash in a thread"); }).join();
  }
  if (std::string_view(where) == "main") throw std::runtime_error("test crash");
}

int run(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
  std::set_terminate(on_terminate);
  try {
    crash_for_tests();
    return run(argc, argv);
  } catch (...) {
    report_internal_error(std::current_exception());
    return eso::cmd::kExitInternal;
  }
}

namespace {

int run(int argc, char** argv) {
  using namespace eso::cmd;
  CLI::App app{"eso-updater: make the External Secrets Operator re-sync a changed secret now",
               "eso-updater"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions global;
  add_global_options(app, global);

  MatchOptions match_options;
  TriggerCommandOptions trigger_options;
  auto* match = add_match_command(app, match_options);
  auto* trigger = add_trigger_command(app, trigger_options);
  ServeOptions serve_options;
  auto* serve = add_serve_command(app, serve_options);
  auto* version = app.add_subcommand("version", "Print the version");
  std::string shell;
  auto* completion =
      app.add_subcommand("completion", "Print the completion script for bash, zsh or fish");
  completion->add_option("shell", shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (completion->parsed()) {
    for (const auto& [name, script] : kCompletionScripts) {
      if (name == shell) fmt::print("{}", script);
    }
    return kExitOk;
  }
  if (version->parsed()) {
    fmt::print("eso-updater {}\n", eso::kVersion);
    return kExitOk;
  }
  if (match->parsed()) return run_match(global, match_options);
  if (trigger->parsed()) return run_trigger(global, trigger_options);
  if (serve->parsed()) return run_serve(global, serve_options);
  return kExitUsage;
}

}  // namespace
