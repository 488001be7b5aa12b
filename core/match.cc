#include "core/match.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <memory>
#include <utility>

#include "core/key_rules.h"
#include "core/remote_key.h"

namespace eso {
namespace {

constexpr std::string_view kPathRule = "infisical-path";

// Compiled find.name.regexp patterns; an object list repeats the same few patterns.
class RegexpCache {
 public:
  /// The compiled pattern, or nullptr with `error` set when RE2 rejects it.
  const RE2* get(const std::string& pattern, std::string& error) {
    auto [it, added] = cache_.try_emplace(pattern);
    if (added) {
      RE2::Options options;
      options.set_log_errors(false);
      it->second = std::make_unique<RE2>(pattern, options);
    }
    if (!it->second->ok()) {
      error = it->second->error();
      return nullptr;
    }
    return it->second.get();
  }

 private:
  std::map<std::string, std::unique_ptr<RE2>> cache_;
};

struct FindOutcome {
  bool selected = false;
  bool possible = false;
  std::string field;
};

// ESO (find.go) evaluates name.regexp with Go's regexp.MatchString: unanchored, RE2 syntax.
FindOutcome evaluate_find(const FindRef& find, const std::string& key, RegexpCache& regexps,
                          std::string& error) {
  if (!find.has_path && !find.has_name_regexp && !find.has_tags) return {};
  if (find.has_path && !find_path_selects(normalise_akeyless_key(find.path), key)) return {};
  std::string field = find.field + (find.has_path ? ".path" : "");
  if (find.has_name_regexp) {
    const RE2* re = regexps.get(find.name_regexp, error);
    if (re == nullptr || !RE2::PartialMatch(key, *re)) return {};
    field = find.field + ".name.regexp";
  }
  if (find.has_tags) return {true, true, find.field + ".tags"};
  return {true, false, field};
}

bool in_scope(const ExternalSecret& es, const StoreRef& store, const MatchScope& scope) {
  if (!scope.store_name.empty() && store.name != scope.store_name) return false;
  if (!scope.store_kind.empty() && store.kind != scope.store_kind) return false;
  if (scope.provider.empty()) return true;
  const StoreInfo* info = scope.stores ? scope.stores(es, store) : nullptr;
  return info != nullptr && info->provider == scope.provider;
}

void match_finds(const ExternalSecret& es, const std::vector<std::string>& wanted,
                 const MatchScope& scope, RegexpCache& regexps, MatchResult& result) {
  for (const auto& find : es.finds) {
    if (!in_scope(es, find.store, scope)) continue;
    bool reported = false;
    for (const auto& key : wanted) {
      std::string error;
      FindOutcome outcome = evaluate_find(find, key, regexps, error);
      if (!error.empty()) {
        if (!reported) {
          result.problems.push_back(
              MatchProblem{&es, find.field + ".name.regexp",
                           "invalid regexp \"" + find.name_regexp + "\": " + error});
        }
        reported = true;
        continue;
      }
      if (!outcome.selected) continue;
      result.matches.push_back(Match{&es, key, std::move(outcome.field), find.store,
                                     refresh_verdict(es), outcome.possible, "akeyless"});
    }
  }
}

}  // namespace

MatchVerdict refresh_verdict(const ExternalSecret& es) {
  // ESO's shouldRefresh: both exceptions apply only once the object has synced.
  if (es.synced_resource_version.empty()) return MatchVerdict::kNeverSynced;
  switch (es.refresh_policy) {
    case RefreshPolicy::kCreatedOnce:
      return MatchVerdict::kCreatedOnce;
    case RefreshPolicy::kOnChange:
      return MatchVerdict::kWillRefresh;
    case RefreshPolicy::kPeriodic:
      break;
  }
  return es.refresh_interval.count() == 0 ? MatchVerdict::kPeriodicZeroInterval
                                          : MatchVerdict::kWillRefresh;
}

bool will_refresh(MatchVerdict verdict) {
  return verdict == MatchVerdict::kWillRefresh || verdict == MatchVerdict::kNeverSynced;
}

std::string_view verdict_text(MatchVerdict verdict) {
  static constexpr std::array<std::pair<MatchVerdict, std::string_view>, 4> kTexts{{
      {MatchVerdict::kWillRefresh, "will-refresh"},
      {MatchVerdict::kNeverSynced, "will-refresh (not synced yet)"},
      {MatchVerdict::kCreatedOnce, "will-not-refresh (refreshPolicy CreatedOnce)"},
      {MatchVerdict::kPeriodicZeroInterval, "will-not-refresh (Periodic with refreshInterval 0)"},
  }};
  for (const auto& [v, text] : kTexts) {
    if (v == verdict) return text;
  }
  return "unknown";
}

std::string match_verdict_text(const Match& m) {
  if (m.possible && will_refresh(m.verdict)) {
    return m.rule == kPathRule ? "possible (find filters a changed folder by name or tags)"
                               : "possible (find.tags)";
  }
  return std::string(verdict_text(m.verdict));
}

bool find_path_selects(std::string_view path, std::string_view key) {
  if (path == "/") return true;
  return key.size() > path.size() && key.substr(0, path.size()) == path && key[path.size()] == '/';
}

namespace {

// The requested keys in each rule's canonical form, mapped back to how they are reported.
struct WantedKeys {
  std::vector<std::map<std::string, std::string>> by_rule;  // parallel to key_rules()

  explicit WantedKeys(const std::vector<std::string>& keys) {
    for (const auto& rule : key_rules()) {
      std::map<std::string, std::string> canon;
      for (const auto& k : keys) {
        const std::string shown = rule.provider == "akeyless" ? normalise_akeyless_key(k) : k;
        canon.emplace(rule.canonical(k), shown);
      }
      by_rule.push_back(std::move(canon));
    }
  }
};

// The one key rule that applies to an entry (DESIGN.md §3): its store's provider when known,
// else the scope's provider, else the rule of the event's source, else the exact rule
// (Akeyless-style leading-slash equivalence only). Never every rule at once: that matched
// across tenants. A provider without a rule of its own compares exactly.
size_t rule_for(const StoreInfo* store, const MatchScope& scope) {
  const auto rules = key_rules();
  std::string_view provider = store != nullptr ? std::string_view(store->provider) : "";
  if (provider.empty()) provider = scope.provider;
  if (provider.empty()) provider = scope.event_rule;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].provider == provider) return i;
  }
  return 0;  // akeyless: the exact rule
}

void match_remote_keys(const ExternalSecret& es, const WantedKeys& wanted, const MatchScope& scope,
                       MatchResult& result) {
  const auto rules = key_rules();
  for (const auto& ref : es.remote_keys) {
    if (!in_scope(es, ref.store, scope)) continue;
    const StoreInfo* store = scope.stores ? scope.stores(es, ref.store) : nullptr;
    const size_t i = rule_for(store, scope);
    std::string canon = rules[i].canonical(ref.key);
    // Vault keys are usually written without the mount the store names.
    if (rules[i].provider == "vault" && store != nullptr && !store->vault_mount.empty() &&
        canon.rfind(store->vault_mount + "/", 0) != 0) {
      canon = rules[i].canonical(store->vault_mount + "/" + ref.key);
    }
    const auto hit = wanted.by_rule[i].find(canon);
    if (hit == wanted.by_rule[i].end()) continue;
    result.matches.push_back(Match{&es, hit->second, ref.field, ref.store, refresh_verdict(es),
                                   false, std::string(rules[i].provider)});
  }
}

std::string folder_of(const std::string& key) {
  const auto slash = key.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : key.substr(0, slash);
}

// Infisical names a folder, not secrets: see match_keys(). With the store known, a key
// written without a folder lies in the store's secretsPath, and the environment must match.
void match_paths(const ExternalSecret& es, const std::vector<std::string>& paths,
                 const MatchScope& scope, MatchResult& result) {
  // nullptr: the store is unknown, so every entry is a candidate; else skip other providers
  // and other environments.
  auto usable = [&](const StoreRef& store, const StoreInfo*& info) {
    info = scope.stores ? scope.stores(es, store) : nullptr;
    if (info == nullptr) return true;
    if (info->provider != "infisical") return false;
    return scope.environment.empty() || info->infisical_environment.empty() ||
           info->infisical_environment == scope.environment;
  };
  for (const auto& ref : es.remote_keys) {
    const StoreInfo* info = nullptr;
    if (!in_scope(es, ref.store, scope) || !usable(ref.store, info)) continue;
    // ESO joins a key that does not start with '/' (NAME or sub/NAME) to the store's path.
    std::string key = ref.key;
    if (info != nullptr && !key.empty() && key.front() != '/') {
      key = info->infisical_path + "/" + key;
    }
    const std::string folder = folder_of(normalise_akeyless_key(key));
    for (const auto& path : paths) {
      if (folder != path) continue;
      result.matches.push_back(Match{&es, path, ref.field, ref.store, refresh_verdict(es), false,
                                     std::string(kPathRule)});
      break;
    }
  }
  for (const auto& find : es.finds) {
    const StoreInfo* info = nullptr;
    if (!in_scope(es, find.store, scope) || !usable(find.store, info)) continue;
    std::string root = find.has_path ? normalise_akeyless_key(find.path) : "/";
    if (!find.has_path && info != nullptr) root = info->infisical_path;
    for (const auto& path : paths) {
      // ESO's Infisical find keeps a secret whose path starts with find.path, as a string.
      if (path.rfind(root, 0) != 0) continue;
      const bool possible = find.has_name_regexp || find.has_tags;
      const std::string field = find.field + (find.has_tags          ? ".tags"
                                              : find.has_name_regexp ? ".name.regexp"
                                                                     : ".path");
      result.matches.push_back(Match{&es, path, field, find.store, refresh_verdict(es), possible,
                                     std::string(kPathRule)});
      break;
    }
  }
}

constexpr std::string_view kConfigRule = "doppler-config";

bool config_selects(const ConfigScope& config, const StoreInfo* info, const MatchScope& scope) {
  if (info == nullptr) return !scope.store_name.empty();  // the route named the store
  if (info->provider != config.provider) return false;
  if (!info->doppler_config.empty() && info->doppler_config != config.config) return false;
  if (info->doppler_project.empty()) return true;
  return std::any_of(config.projects.begin(), config.projects.end(), [&](const std::string& p) {
    return p.size() == info->doppler_project.size() &&
           std::equal(p.begin(), p.end(), info->doppler_project.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  });
}

// A whole configuration changed: every entry reading one of its stores.
void match_configs(const ExternalSecret& es, const std::vector<ConfigScope>& configs,
                   const MatchScope& scope, MatchResult& result) {
  auto add = [&](const StoreRef& store, const std::string& field) {
    if (!in_scope(es, store, scope)) return;
    const StoreInfo* info = scope.stores ? scope.stores(es, store) : nullptr;
    for (const auto& c : configs) {
      if (!config_selects(c, info, scope)) continue;
      result.matches.push_back(Match{&es, c.provider + ":" + c.config, field, store,
                                     refresh_verdict(es), false, std::string(kConfigRule)});
      return;
    }
  };
  for (const auto& ref : es.remote_keys) add(ref.store, ref.field);
  for (const auto& find : es.finds) add(find.store, find.field);
}

}  // namespace

MatchResult match_keys(const std::vector<ExternalSecret>& objects,
                       const std::vector<std::string>& keys, const MatchScope& scope,
                       const std::vector<std::string>& paths,
                       const std::vector<ConfigScope>& configs) {
  const WantedKeys wanted(keys);
  std::vector<std::string> akeyless;
  akeyless.reserve(keys.size());
  for (const auto& k : keys) akeyless.push_back(normalise_akeyless_key(k));
  std::sort(akeyless.begin(), akeyless.end());
  akeyless.erase(std::unique(akeyless.begin(), akeyless.end()), akeyless.end());

  MatchResult result;
  RegexpCache regexps;
  for (const auto& es : objects) {
    match_remote_keys(es, wanted, scope, result);
    match_finds(es, akeyless, scope, regexps, result);
    if (!paths.empty()) match_paths(es, paths, scope, result);
    if (!configs.empty()) match_configs(es, configs, scope, result);
  }
  return result;
}

}  // namespace eso
