// libcurl, loaded when first called rather than when eso-updater starts.
//
// Debian's libcurl4 brings 27 shared libraries with it (GnuTLS through librtmp, Kerberos, LDAP,
// SASL, ...); mapping and relocating them is most of a short command's run time (~5.5 ms of
// `eso-updater version`'s 10 ms on the development machine). Only the commands that speak to
// the Kubernetes API, or fetch a webhook sender's keys, need it; `trigger --server`, `version`,
// `completion` and `--help` do not. So the binary does not link libcurl: this file defines the
// libcurl functions eso-updater calls, each forwarding to the real one in libcurl.so.4, which is
// opened on the first call. The headers stay libcurl's own (types and constants); packages that
// install eso-updater name libcurl4 explicitly, since no linker records the dependency.
//
// curl_easy_setopt, curl_easy_getinfo and curl_share_setopt take one variadic argument whose
// type follows from the option's number (curl.h: CURLOPTTYPE_LONG, _OBJECTPOINT, _FUNCTIONPOINT,
// _OFF_T, _BLOB; getinfo always a pointer); each forwarder reads it with that type and passes it
// on, as libcurl reads it.

#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace {

using Callback = void (*)();  // any callback: passed on as it came

struct Libcurl {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  char* (*easy_escape)(CURL*, const char*, int);
  void (*free)(void*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLSH* (*share_init)();
  CURLSHcode (*share_setopt)(CURLSH*, CURLSHoption, ...);
  CURLSHcode (*share_cleanup)(CURLSH*);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU*);
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
  CURLUcode (*url_get)(CURLU*, CURLUPart, char**, unsigned int);
};

[[noreturn]] void cannot_load(const char* what) {
  // No caller could go on without libcurl: the installation is incomplete, and saying so
  // beats a crash at the first null handle.
  std::fprintf(stderr,
               "eso-updater: cannot load libcurl (%s). Install it: apt-get install libcurl4 "
               "(Debian, Ubuntu), or use the eso-updater package or image, which bring it.\n",
               what);
  std::fflush(stderr);
  std::_Exit(2);  // kExitUsage: nothing was done
}

template <class F>
void resolve(void* library, const char* name, F& into) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) cannot_load(name);
  into = reinterpret_cast<F>(symbol);
}

Libcurl open_libcurl() {
  void* library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) cannot_load(dlerror());
  Libcurl l{};
  resolve(library, "curl_global_init", l.global_init);
  resolve(library, "curl_easy_init", l.easy_init);
  resolve(library, "curl_easy_cleanup", l.easy_cleanup);
  resolve(library, "curl_easy_reset", l.easy_reset);
  resolve(library, "curl_easy_perform", l.easy_perform);
  resolve(library, "curl_easy_setopt", l.easy_setopt);
  resolve(library, "curl_easy_getinfo", l.easy_getinfo);
  resolve(library, "curl_easy_strerror", l.easy_strerror);
  resolve(library, "curl_easy_escape", l.easy_escape);
  resolve(library, "curl_free", l.free);
  resolve(library, "curl_slist_append", l.slist_append);
  resolve(library, "curl_slist_free_all", l.slist_free_all);
  resolve(library, "curl_share_init", l.share_init);
  resolve(library, "curl_share_setopt", l.share_setopt);
  resolve(library, "curl_share_cleanup", l.share_cleanup);
  resolve(library, "curl_url", l.url);
  resolve(library, "curl_url_cleanup", l.url_cleanup);
  resolve(library, "curl_url_set", l.url_set);
  resolve(library, "curl_url_get", l.url_get);
  // Once, before any handle: curl_global_init is not safe to race with other libcurl calls.
  // Later curl_global_init calls only count up.
  l.global_init(CURL_GLOBAL_DEFAULT);
  return l;
}

const Libcurl& libcurl() {
  static const Libcurl loaded = open_libcurl();  // thread-safe: C++11 static initialisation
  return loaded;
}

}  // namespace

// Hidden: were they exported, libcurl's own calls to its public functions would land here.
#pragma GCC visibility push(hidden)
extern "C" {

CURLcode curl_global_init(long flags) { return libcurl().global_init(flags); }
CURL* curl_easy_init() { return libcurl().easy_init(); }
void curl_easy_cleanup(CURL* h) { libcurl().easy_cleanup(h); }
void curl_easy_reset(CURL* h) { libcurl().easy_reset(h); }
CURLcode curl_easy_perform(CURL* h) { return libcurl().easy_perform(h); }
const char* curl_easy_strerror(CURLcode rc) { return libcurl().easy_strerror(rc); }
char* curl_easy_escape(CURL* h, const char* s, int length) {
  return libcurl().easy_escape(h, s, length);
}
void curl_free(void* p) { libcurl().free(p); }
curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  return libcurl().slist_append(list, s);
}
void curl_slist_free_all(curl_slist* list) { libcurl().slist_free_all(list); }
CURLSH* curl_share_init() { return libcurl().share_init(); }
CURLSHcode curl_share_cleanup(CURLSH* share) { return libcurl().share_cleanup(share); }
CURLU* curl_url() { return libcurl().url(); }
void curl_url_cleanup(CURLU* u) { libcurl().url_cleanup(u); }
CURLUcode curl_url_set(CURLU* u, CURLUPart part, const char* value, unsigned int flags) {
  return libcurl().url_set(u, part, value, flags);
}
CURLUcode curl_url_get(CURLU* u, CURLUPart part, char** value, unsigned int flags) {
  return libcurl().url_get(u, part, value, flags);
}

// va_start after an enum parameter: clang warns that the enum is promoted, but CURLoption,
// CURLINFO and CURLSHoption promote to int, their underlying type, and libcurl's own
// definitions of these functions take their arguments in exactly this way.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wvarargs"
#endif

CURLcode curl_easy_setopt(CURL* h, CURLoption option, ...) {
  va_list args;
  va_start(args, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = libcurl().easy_setopt(h, option, va_arg(args, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    rc = libcurl().easy_setopt(h, option, va_arg(args, void*));  // strings, lists, user data
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = libcurl().easy_setopt(h, option, va_arg(args, Callback));
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = libcurl().easy_setopt(h, option, va_arg(args, curl_off_t));
  } else {
    rc = libcurl().easy_setopt(h, option, va_arg(args, void*));  // struct curl_blob*
  }
  va_end(args);
  return rc;
}

CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  va_list args;
  va_start(args, info);
  void* into = va_arg(args, void*);  // every CURLINFO_* takes a pointer to its result
  va_end(args);
  return libcurl().easy_getinfo(h, info, into);
}

CURLSHcode curl_share_setopt(CURLSH* share, CURLSHoption option, ...) {
  va_list args;
  va_start(args, option);
  CURLSHcode rc;
  switch (option) {
    case CURLSHOPT_SHARE:
    case CURLSHOPT_UNSHARE:
      rc = libcurl().share_setopt(share, option, va_arg(args, int));  // curl_lock_data
      break;
    case CURLSHOPT_LOCKFUNC:
    case CURLSHOPT_UNLOCKFUNC:
      rc = libcurl().share_setopt(share, option, va_arg(args, Callback));
      break;
    default:
      rc = libcurl().share_setopt(share, option, va_arg(args, void*));  // CURLSHOPT_USERDATA
      break;
  }
  va_end(args);
  return rc;
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

}  // extern "C"
#pragma GCC visibility pop
