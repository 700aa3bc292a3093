// Support code every C handler plugin links with, next to the generated `bindings/plugin.c`.
#include "piston.h"

// The destructor of `item-stream`, exported under its component-model name.
//
// wit-bindgen 0.63 exports the generated destructor as `#[dtor]item_stream` (the C name),
// which the component linker does not recognise as the resource's destructor: without
// this, the host's drop of a stream never reaches the guest and every stream's state
// leaks. Should a later wit-bindgen export the right name itself, the link fails with a
// duplicate export, and this file is no longer needed.
__attribute__((__export_name__("piston:handler/handler@0.2.0#[dtor]item-stream")))
void piston_item_stream_dtor(exports_piston_handler_handler_item_stream_t *rep) {
  exports_piston_handler_handler_item_stream_destructor(rep);
}
