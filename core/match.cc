#include "core/match.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <utility>

#include "core/remote_key.h"

namespace eso {
namespace {

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

void match_finds(const ExternalSecret& es, const std::vector<std::string>& wanted,
                 RegexpCache& regexps, MatchResult& result) {
  for (const auto& find : es.finds) {
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
                                     refresh_verdict(es), outcome.possible});
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

bool find_path_selects(std::string_view path, std::string_view key) {
  if (path == "/") return true;
  return key.size() > path.size() && key.substr(0, path.size()) == path && key[path.size()] == '/';
}

MatchResult match_keys(const std::vector<ExternalSecret>& objects,
                       const std::vector<std::string>& keys) {
  std::vector<std::string> wanted;
  wanted.reserve(keys.size());
  for (const auto& k : keys) wanted.push_back(normalise_akeyless_key(k));
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  MatchResult result;
  RegexpCache regexps;
  for (const auto& es : objects) {
    for (const auto& ref : es.remote_keys) {
      std::string key = normalise_akeyless_key(ref.key);
      if (!std::binary_search(wanted.begin(), wanted.end(), key)) continue;
      result.matches.push_back(
          Match{&es, std::move(key), ref.field, ref.store, refresh_verdict(es), false});
    }
    match_finds(es, wanted, regexps, result);
  }
  return result;
}

}  // namespace eso
