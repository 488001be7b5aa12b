// The man page and the bash, zsh and fish completions must offer exactly what `--help` documents.
#include <algorithm>
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

// "missing: ...; extra: ..." between what a completion or page offers and what --help lists.
std::string difference(const std::set<std::string>& offered, const std::set<std::string>& help) {
  std::string missing, extra;
  for (const auto& f : help) {
    if (offered.count(f) == 0) missing += " " + f;
  }
  for (const auto& f : offered) {
    if (help.count(f) == 0) extra += " " + f;
  }
  return "missing:" + missing + "; not in --help:" + extra;
}

// Checks that a completion or page offers exactly what --help lists, naming the difference.
void check_same(const std::set<std::string>& offered, const std::set<std::string>& help) {
  CHECK_MESSAGE(offered == help, difference(offered, help));
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

// The subcommands --help lists, from its "Subcommands:" section.
std::set<std::string> commands_in_help() {
  const auto help = eso_updater({"--help"});
  std::set<std::string> commands;
  const auto section = help.out.find("Subcommands:");
  REQUIRE(section != std::string::npos);
  std::istringstream lines(help.out.substr(section));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string word;
    words >> word;
    commands.insert(word);
  }
  CHECK(commands.size() >= 4);
  return commands;
}

// The subcommands that take options of their own (all but `version` and `completion`, whose
// only argument is the shell).
std::vector<std::string> commands_with_options() {
  std::vector<std::string> out;
  for (const auto& c : commands_in_help()) {
    if (c != "version" && c != "completion") out.push_back(c);
  }
  return out;
}

// Flags valid after `eso-updater COMMAND`: its own and, by fallthrough, the global ones.
std::set<std::string> flags_after(const std::string& command) {
  auto flags = flags_in_help({command, "--help"});
  for (const auto& f : flags_in_help({"--help"})) flags.insert(f);
  return flags;
}

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line.substr(0, line.find('\t')));
  }
  return out;
}

// What fish itself offers for `line` (its `complete -C`), candidates only.
std::set<std::string> fish_completions(const std::string& line) {
  const std::string script = std::string(ESO_SOURCE_DIR) + "/completions/eso-updater.fish";
  const auto r = run_process(
      {"fish", "--no-config", "-c", "source '" + script + "'; complete -C '" + line + "'"});
  INFO(r.err);
  REQUIRE_MESSAGE(r.exit_code == 0, "fish failed (scripts/install-deps installs it)");
  return lines_of(r.out);
}

// Runs the zsh completion function with _arguments and _describe replaced by stubs that print
// what they are given, for the command line `words` (as zsh's `words` after the command
// dispatch). Returns the flags named by the option specs of the last _arguments call, and
// the command names _describe offers.
struct ZshOffer {
  std::set<std::string> flags;
  std::set<std::string> commands;
};

ZshOffer zsh_offer(const std::string& words, const std::string& state) {
  const std::string driver =
      "_arguments() { print -r -- call; print -rl -- spec:${^@}; state=$ESO_STATE; return 0 }\n"
      "_describe() { print -rl -- command:${^${(P)4}} }\n"
      "words=(${=ESO_WORDS})\n"
      "source \"$1\"\n";
  const auto r = run_process(
      {"zsh", "-f", "-c", driver, "zsh", std::string(ESO_SOURCE_DIR) + "/completions/_eso-updater"},
      {"ESO_WORDS=" + words, "ESO_STATE=" + state});
  INFO(r.err);
  REQUIRE_MESSAGE(r.exit_code == 0, "zsh failed (scripts/install-deps installs it)");
  ZshOffer offer;
  // An option spec: optional (exclusions), optional *, the option name, [description].
  const std::regex spec(R"(^spec:(\([^)]*\))?\*?(--?[A-Za-z][A-Za-z-]*)[=+]?\[)");
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (line == "call") offer.flags.clear();
    if (std::regex_search(line, m, spec)) offer.flags.insert(m[2]);
    if (line.rfind("command:", 0) == 0) {
      offer.commands.insert(line.substr(8, line.find(':', 8) - 8));
    }
  }
  return offer;
}

}  // namespace

TEST_CASE("bash completion offers exactly the flags --help documents") {
  const std::string script = read_source("completions/eso-updater.bash");
  check_same(words_of(completion_list(script, "global_opts")), flags_in_help({"--help"}));
  for (const auto& command : commands_with_options()) {
    CAPTURE(command);
    check_same(words_of(completion_list(script, command + "_opts")),
               flags_in_help({command, "--help"}));
  }
  check_same(words_of(completion_list(script, "commands")), commands_in_help());
}

TEST_CASE("zsh completion offers exactly the commands and flags --help documents") {
  const auto top = zsh_offer("eso-updater", "command");
  check_same(top.commands, commands_in_help());
  check_same(top.flags, flags_in_help({"--help"}));
  for (const auto& command : commands_with_options()) {
    CAPTURE(command);
    check_same(zsh_offer(command, "args").flags, flags_after(command));
  }
}

TEST_CASE("fish completion offers exactly the commands and flags --help documents") {
  check_same(fish_completions("eso-updater "), commands_in_help());
  check_same(fish_completions("eso-updater -"), flags_in_help({"--help"}));
  for (const auto& command : commands_with_options()) {
    CAPTURE(command);
    check_same(fish_completions("eso-updater " + command + " -"), flags_after(command));
  }
  check_same(fish_completions("eso-updater trigger --output "),
             std::set<std::string>{"json", "name", "table"});
}

TEST_CASE("the completion scripts are valid bash, zsh and fish") {
  const std::string dir = std::string(ESO_SOURCE_DIR) + "/completions/";
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{"bash", "-n", dir + "eso-updater.bash"},
                                             {"zsh", "-n", dir + "_eso-updater"},
                                             {"fish", "--no-execute", dir + "eso-updater.fish"}}) {
    const auto r = run_process(argv);
    INFO(argv[0], ": ", r.err);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("the man page documents every command and flag --help lists, and no other flag") {
  const std::string page = read_source("man/eso-updater.1.scd");
  std::set<std::string> all = flags_in_help({"--help"});
  for (const auto& command : commands_with_options()) {
    for (const auto& f : flags_in_help({command, "--help"})) all.insert(f);
  }
  for (const auto& f : all) {
    CAPTURE(f);
    CHECK(page.find("*" + f + "*") != std::string::npos);
  }
  for (const auto& c : commands_in_help()) {
    CAPTURE(c);
    CHECK(page.find("\n*" + c + "*\n") != std::string::npos);
  }
  // Every option the page sets in bold exists.
  const std::regex bold_flag(R"(\*(--?[A-Za-z][A-Za-z-]*)\*)");
  for (std::sregex_iterator it(page.begin(), page.end(), bold_flag), end; it != end; ++it) {
    CAPTURE((*it)[1]);
    CHECK(all.count((*it)[1]) == 1);
  }
}

TEST_CASE("the committed man page is generated from its source") {
  // scdoc dates the page the day it runs: the date is left out of the comparison (a page made
  // yesterday is still current), and checked to be a date.
  const std::string dir = ESO_SOURCE_DIR;
  const std::string undated =
      R"(sed -E 's/^(\.TH "eso-updater" "1") "[0-9]{4}-[0-9]{2}-[0-9]{2}"$/\1/')";
  const auto r =
      run_process({"sh", "-c",
                   "t=$(mktemp) && scdoc < '" + dir + "/man/eso-updater.1.scd' | " + undated +
                       " > \"$t\" && " + undated + " '" + dir +
                       "/man/eso-updater.1' | cmp - \"$t\"; s=$?; rm -f \"$t\"; exit $s"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  const std::regex dated(R"(\n\.TH "eso-updater" "1" "\d{4}-\d{2}-\d{2}"\n)");
  CHECK(std::regex_search(read_source("man/eso-updater.1"), dated));
}

TEST_CASE("version prints the project version") {
  const auto r = eso_updater({"version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("eso-updater " ESO_PROJECT_VERSION, 0) == 0);
  CHECK(r.out.find('\n') == r.out.size() - 1);
}

}  // namespace eso::test

namespace eso::test {

TEST_CASE("completion SHELL prints the script completions/ holds, and refuses other shells") {
  for (const auto& [shell, file] :
       std::vector<std::pair<std::string, std::string>>{{"bash", "completions/eso-updater.bash"},
                                                        {"zsh", "completions/_eso-updater"},
                                                        {"fish", "completions/eso-updater.fish"}}) {
    CAPTURE(shell);
    const auto r = eso_updater({"completion", shell});
    CHECK(r.exit_code == 0);
    CHECK(r.out == read_source(file));
  }
  const auto bad = eso_updater({"completion", "tcsh"});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "tcsh"));
  CHECK(eso_updater({"completion"}).exit_code == 2);
}

}  // namespace eso::test

namespace eso::test {

TEST_CASE("an exception nothing handled, on any thread, is one line on stderr and exit 70") {
  for (const std::string where : {"main", "thread"}) {
    CAPTURE(where);
    const auto r = eso_updater({"version"}, {"ESO_UPDATER_TEST_CRASH=" + where});
    CHECK(r.exit_code == 70);
    CHECK(r.err.rfind("eso-updater: internal error: test crash", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
  // The exit code is documented.
  CHECK(read_source("man/eso-updater.1.scd").find("*70*") != std::string::npos);
}

}  // namespace eso::test
