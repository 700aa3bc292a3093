// Helpers for Piston handler plugins in C, on top of the generated bindings in
// `bindings/` (include this after, or instead of, "plugin.h").
#ifndef PISTON_H
#define PISTON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "plugin.h"

// Frees everything in a request that `handle` received. Call it (not the generated
// `exports_piston_handler_handler_request_free`) once per request.
//
// The free functions wit-bindgen 0.63 generates for the records of
// `piston:handler/types` skip the fields whose types are the world's shared anonymous
// types (`plugin_list_*`, `plugin_option_string_t`): the generated request free leaks
// `params`, `query`, `headers`, `data` and the principal's `scopes` and `claims`. This
// frees those fields itself, empties them, and then calls the generated function for the
// rest, so it stays correct if a later wit-bindgen frees them too.
static inline void piston_request_free(exports_piston_handler_handler_request_t *req) {
  plugin_list_tuple2_string_string_free(&req->params);
  req->params = (plugin_list_tuple2_string_string_t){NULL, 0};
  plugin_list_tuple2_string_string_free(&req->query);
  req->query = (plugin_list_tuple2_string_string_t){NULL, 0};
  plugin_list_tuple2_string_string_free(&req->headers);
  req->headers = (plugin_list_tuple2_string_string_t){NULL, 0};
  plugin_option_string_free(&req->data);
  req->data.is_some = false;
  if (req->principal.is_some) {
    plugin_list_string_free(&req->principal.val.scopes);
    req->principal.val.scopes = (plugin_list_string_t){NULL, 0};
    plugin_option_string_free(&req->principal.val.claims);
    req->principal.val.claims.is_some = false;
  }
  exports_piston_handler_handler_request_free(req);
}

// Whether a WIT string (UTF-8, not NUL-terminated) equals a C string.
static inline bool piston_str_eq(plugin_string_t s, const char *c) {
  size_t n = strlen(c);
  return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

// The value of the first pair named `name` in a list of pairs (route parameters, query
// parameters, headers), or NULL. The value belongs to the request.
static inline const plugin_string_t *piston_lookup(plugin_list_tuple2_string_string_t pairs,
                                                   const char *name) {
  for (size_t i = 0; i < pairs.len; i++) {
    if (piston_str_eq(pairs.ptr[i].f0, name)) {
      return &pairs.ptr[i].f1;
    }
  }
  return NULL;
}

#endif
