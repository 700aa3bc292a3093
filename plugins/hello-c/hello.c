// hello-c: a Piston handler plugin written in C.
//
// `GET /hello-c/{name}` answers `{"hello": "<name>"}`; the name "nobody" answers a 404
// problem. It implements the `plugin` world of `piston:handler@0.2.0` through the C
// bindings in `guest-sdk/c/bindings` and the helpers in `guest-sdk/c/piston.h` (see
// `guest-sdk/c/README.md` for the rules used here: who frees what, and why every
// returned string is a heap copy).

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "piston.h"

typedef exports_piston_handler_handler_plugin_info_t plugin_info_t;
typedef exports_piston_handler_handler_request_t request_t;
typedef exports_piston_handler_handler_response_t response_t;
typedef exports_piston_handler_handler_guest_error_t guest_error_t;
typedef piston_handler_types_resource_spec_t resource_spec_t;
typedef piston_handler_types_method_doc_t method_doc_t;

// --- Small helpers -------------------------------------------------------------------

// Allocates or traps: the host answers 500 for this request and discards the instance.
static void *xcalloc(size_t count, size_t size) {
  void *p = calloc(count, size);
  if (p == NULL && count != 0 && size != 0) {
    abort();
  }
  return p;
}

// A heap copy of a C string. Every string returned to the host must be on the heap: the
// bindings free it after the host has read it.
static plugin_string_t str(const char *s) {
  plugin_string_t out;
  plugin_string_dup(&out, s);
  return out;
}

// A list of one heap-copied string.
static plugin_list_string_t list_of(const char *s) {
  plugin_list_string_t out = {xcalloc(1, sizeof(plugin_string_t)), 1};
  out.ptr[0] = str(s);
  return out;
}

// A list of one method.
static piston_handler_types_list_method_t methods_of(piston_handler_types_method_t m) {
  piston_handler_types_list_method_t out = {xcalloc(1, sizeof(piston_handler_types_method_t)), 1};
  out.ptr[0] = m;
  return out;
}

// A growable byte buffer for building JSON text.
typedef struct {
  uint8_t *ptr;
  size_t len;
  size_t cap;
} buf_t;

static void buf_put(buf_t *b, const void *bytes, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) {
      cap *= 2;
    }
    uint8_t *p = realloc(b->ptr, cap);
    if (p == NULL) {
      abort();
    }
    b->ptr = p;
    b->cap = cap;
  }
  memcpy(b->ptr + b->len, bytes, n);
  b->len += n;
}

static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

// Appends `s` as a JSON string literal, quotes included. WIT strings are valid UTF-8, so
// bytes from 0x80 up are copied as they are; quotes, backslashes and control characters
// are escaped.
static void buf_json_string(buf_t *b, plugin_string_t s) {
  static const char hex[] = "0123456789abcdef";
  buf_puts(b, "\"");
  for (size_t i = 0; i < s.len; i++) {
    uint8_t c = s.ptr[i];
    switch (c) {
      case '"': buf_puts(b, "\\\""); break;
      case '\\': buf_puts(b, "\\\\"); break;
      case '\b': buf_puts(b, "\\b"); break;
      case '\f': buf_puts(b, "\\f"); break;
      case '\n': buf_puts(b, "\\n"); break;
      case '\r': buf_puts(b, "\\r"); break;
      case '\t': buf_puts(b, "\\t"); break;
      default:
        if (c < 0x20) {
          char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
          buf_put(b, esc, sizeof esc);
        } else {
          buf_put(b, &c, 1);
        }
    }
  }
  buf_puts(b, "\"");
}

// Hands the buffer over as a WIT string (the bindings free it after the call).
static plugin_string_t buf_into_string(buf_t *b) {
  plugin_string_t out = {b->ptr, b->len};
  *b = (buf_t){0};
  return out;
}

// --- describe --------------------------------------------------------------------------

void exports_piston_handler_handler_describe(plugin_info_t *ret) {
  // For the generated API documentation: what GET does, and the shape of its answer.
  method_doc_t *get = xcalloc(1, sizeof *get);
  get->method = PISTON_HANDLER_TYPES_METHOD_GET;
  get->description =
      str("Greets someone.\n\nAnswers `{\"hello\": \"<name>\"}`, or 404 for `nobody`.");
  get->response_schema.is_some = true;
  get->response_schema.val = str(
      "{\"type\":\"object\",\"properties\":{\"hello\":{\"type\":\"string\"}},"
      "\"required\":[\"hello\"]}");

  resource_spec_t *greeting = xcalloc(1, sizeof *greeting);
  // calloc leaves every list empty and `item_uri` none.
  greeting->name = str("greeting");
  greeting->description = str("Greets `{name}` in JSON. `nobody` is not found.");
  greeting->method_docs.ptr = get;
  greeting->method_docs.len = 1;
  greeting->routes = list_of("/hello-c/{name}");
  greeting->allowed_methods = methods_of(PISTON_HANDLER_TYPES_METHOD_GET);
  greeting->anonymous_methods = methods_of(PISTON_HANDLER_TYPES_METHOD_GET);

  ret->name = str("hello-c");
  ret->version = str("0.1.0");
  ret->description = str("Says hello, from C.");
  ret->resources.ptr = greeting;
  ret->resources.len = 1;
}

// --- handle ------------------------------------------------------------------------------

static void not_found(response_t *res, plugin_string_t name) {
  buf_t detail = {0};
  buf_puts(&detail, "There is no one called ");
  buf_put(&detail, name.ptr, name.len);
  buf_puts(&detail, " here.");

  res->status = 404;
  res->body.tag = EXPORTS_PISTON_HANDLER_HANDLER_BODY_PROBLEM;
  res->body.val.problem.title = str("Not Found");
  res->body.val.problem.detail.is_some = true;
  res->body.val.problem.detail.val = buf_into_string(&detail);
  // `violations` stays empty.
}

static void greet(response_t *res, plugin_string_t name) {
  buf_t json = {0};
  buf_puts(&json, "{\"hello\":");
  buf_json_string(&json, name);
  buf_puts(&json, "}");

  res->status = 200;
  res->body.tag = EXPORTS_PISTON_HANDLER_HANDLER_BODY_DATA;
  res->body.val.data = buf_into_string(&json);
}

bool exports_piston_handler_handler_handle(request_t *req, response_t *ret, guest_error_t *err) {
  // The request is ours: it is freed below, whatever the answer.
  bool ok = true;
  *ret = (response_t){0};
  const plugin_string_t *name = piston_lookup(req->params, "name");

  if (!piston_str_eq(req->resource_name, "greeting") || name == NULL) {
    // The host routes only what `describe` declared, so this is a bug: a 500.
    *err = (guest_error_t){0};
    err->message = str("hello-c: request for an unknown resource or route");
    ok = false;
  } else if (req->method != PISTON_HANDLER_TYPES_METHOD_GET) {
    // The host answers 405 for methods `describe` did not allow; never reached.
    ret->status = 405;
    ret->body.tag = EXPORTS_PISTON_HANDLER_HANDLER_BODY_PROBLEM;
    ret->body.val.problem.title = str("Method Not Allowed");
  } else if (piston_str_eq(*name, "nobody")) {
    not_found(ret, *name);
  } else {
    greet(ret, *name);
  }

  piston_request_free(req);
  return ok;
}

// --- item-stream -------------------------------------------------------------------------
//
// This plugin never answers with `items`, but the world exports the resource, so it is
// defined: a stream that is already over. A plugin that streams keeps its cursor in this
// struct, creates a handle with `exports_piston_handler_handler_item_stream_new(rep)` and
// answers with body tag `EXPORTS_PISTON_HANDLER_HANDLER_BODY_ITEMS`.

struct exports_piston_handler_handler_item_stream_t {
  uint32_t remaining;
};

bool exports_piston_handler_handler_method_item_stream_next(
    exports_piston_handler_handler_borrow_item_stream_t self, uint32_t max,
    plugin_list_string_t *ret, guest_error_t *err) {
  (void)self;
  (void)max;
  (void)err;
  *ret = (plugin_list_string_t){NULL, 0};  // an empty list ends the stream
  return true;
}

void exports_piston_handler_handler_item_stream_destructor(
    exports_piston_handler_handler_item_stream_t *rep) {
  free(rep);
}
