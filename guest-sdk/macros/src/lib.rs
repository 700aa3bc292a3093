//! The `#[resource]` attribute of `piston-guest`.
//!
//! It reads which of the verb methods (`read`, `create`, `update`, `patch`, `delete`) an
//! `impl Resource for T` block defines and records them, so the host learns the
//! resource's allowed methods from the code itself and never advertises a method that
//! would only answer 501. Use it through `piston_guest::resource`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ImplItem, ItemImpl, parse_macro_input, spanned::Spanned};

/// The verbs a resource can implement, with the HTTP method each one serves.
const VERBS: &[(&str, &str)] = &[
    ("read", "Get"),
    ("create", "Post"),
    ("update", "Put"),
    ("patch", "Patch"),
    ("delete", "Delete"),
];

/// Marks an `impl Resource for T` block and derives the resource's implemented methods
/// from the verb methods it defines.
#[proc_macro_attribute]
pub fn resource(args: TokenStream, input: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let args = proc_macro2::TokenStream::from(args);
        return syn::Error::new(args.span(), "#[resource] takes no arguments")
            .to_compile_error()
            .into();
    }
    let mut block = parse_macro_input!(input as ItemImpl);
    if block.trait_.is_none() {
        return syn::Error::new(
            block.self_ty.span(),
            "#[resource] goes on `impl Resource for YourType { ... }`",
        )
        .to_compile_error()
        .into();
    }

    let mut methods = Vec::new();
    for item in &block.items {
        match item {
            ImplItem::Fn(function) => {
                let name = function.sig.ident.to_string();
                if let Some((_, method)) = VERBS.iter().find(|(verb, _)| *verb == name) {
                    methods.push(syn::Ident::new(method, function.sig.ident.span()));
                }
            }
            ImplItem::Const(constant) if constant.ident == "IMPLEMENTED" => {
                return syn::Error::new(
                    constant.ident.span(),
                    "#[resource] defines IMPLEMENTED itself; remove this constant",
                )
                .to_compile_error()
                .into();
            }
            _ => {}
        }
    }
    if methods.is_empty() {
        return syn::Error::new(
            block.self_ty.span(),
            "a resource must define at least one of read, create, update, patch, delete",
        )
        .to_compile_error()
        .into();
    }

    block.items.push(syn::parse_quote! {
        const IMPLEMENTED: &'static [::piston_guest::Method] =
            &[#(::piston_guest::Method::#methods),*];
    });
    quote!(#block).into()
}
