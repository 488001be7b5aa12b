// The man page and the bash completion must offer exactly what `--help` documents.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <doctest/doctest.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(ESO_SOURCE_DIR) + "/" + relative);
  REQUIRE_MESSAGE(in.good(), "cannot read ", relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every long and short flag `--help` lists, e.g. "--key", "-k".
std::set<std::string> flags_in_help(const std::vector<std::string>& args) {
  const auto r = eso_updater(args);
  REQUIRE(r.exit_code == 0);
  std::set<std::string> flags;
  const std::regex flag(R"((^|[ ,])(--?[A-Za-z][A-Za-z-]*))");
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  -", 0) != 0) continue;  // option lines start with two spaces and a dash
    const std::string names = line.substr(0, line.find_first_of(" ", 2));
    for (std::sregex_iterator it(names.begin(), names.end(), flag), end; it != end; ++it) {
      flags.insert((*it)[2]);
    }
  }
  return flags;
}

std::set<std::string> words_of(const std::string& text) {
  std::set<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.insert(w);
  return words;
}

// The value of `local NAME="..."` in the completion script.
std::string completion_list(const std::string& script, const std::string& name) {
  const std::regex def("local " + name + "=\"([^\"]*)\"");
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(script, m, def), "no ", name, " in the completion");
  return m[1];
}

}  // namespace

TEST_CASE("bash completion offers exactly the flags --help documents") {
  const std::string script = read_source("completions/eso-updater.bash");
  CHECK(words_of(completion_list(script, "global_opts")) == flags_in_help({"--help"}));
  CHECK(words_of(completion_list(script, "match_opts")) == flags_in_help({"match", "--help"}));
  CHECK(words_of(completion_list(script, "trigger_opts")) == flags_in_help({"trigger", "--help"}));
  CHECK(words_of(completion_list(script, "serve_opts")) == flags_in_help({"serve", "--help"}));
  // The subcommands --help lists, from its "Subcommands:" section.
  const auto help = eso_updater({"--help"});
  std::set<std::string> commands;
  std::istringstream lines(help.out.substr(help.out.find("Subcommands:")));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string word;
    words >> word;
    commands.insert(word);
  }
  CHECK(commands.size() >= 4);
  CHECK(words_of(completion_list(script, "commands")) == commands);
}

TEST_CASE("the man page documents every flag --help lists") {
  const std::string page = read_source("man/eso-updater.1.scd");
  std::set<std::string> all;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"match", "--help"}, {"trigger", "--help"}, {"serve", "--help"}}) {
    for (const auto& f : flags_in_help(args)) all.insert(f);
  }
  for (const auto& f : all) {
    CAPTURE(f);
    CHECK(page.find("*" + f + "*") != std::string::npos);
  }
}

TEST_CASE("the committed man page is generated from its source") {
  const auto r =
      run_process({"sh", "-c",
                   "scdoc < '" + std::string(ESO_SOURCE_DIR) + "/man/eso-updater.1.scd' | cmp - '" +
                       ESO_SOURCE_DIR + "/man/eso-updater.1'"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("version prints the project version") {
  const auto r = eso_updater({"version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("eso-updater ", 0) == 0);
}

}  // namespace eso::test
