//! The `#[resource]` attribute of `piston-guest`.
//!
//! It reads which of the verb methods (`read`, `create`, `update`, `patch`, `delete`) an
//! `impl Resource for T` block defines and records them, so the host learns the
//! resource's allowed methods from the code itself and never advertises a method that
//! would only answer 501. It also records each verb's doc comment, which documents that
//! method in the generated OpenAPI document. Use it through `piston_guest::resource`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Attribute, Expr, ImplItem, ItemImpl, Lit, Meta, parse_macro_input, spanned::Spanned};

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
    let mut docs = Vec::new();
    for item in &block.items {
        match item {
            ImplItem::Fn(function) => {
                let name = function.sig.ident.to_string();
                if let Some((_, method)) = VERBS.iter().find(|(verb, _)| *verb == name) {
                    let method = syn::Ident::new(method, function.sig.ident.span());
                    if let Some(doc) = doc_comment(&function.attrs) {
                        docs.push(quote!((::piston_guest::Method::#method, #doc)));
                    }
                    methods.push(method);
                }
            }
            ImplItem::Const(constant)
                if constant.ident == "IMPLEMENTED" || constant.ident == "VERB_DOCS" =>
            {
                return syn::Error::new(
                    constant.ident.span(),
                    format!(
                        "#[resource] defines {} itself; remove this constant",
                        constant.ident
                    ),
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
    block.items.push(syn::parse_quote! {
        const VERB_DOCS: &'static [(::piston_guest::Method, &'static str)] = &[#(#docs),*];
    });
    quote!(#block).into()
}

/// The text of `///` comments (`#[doc = "..."]` attributes), joined into Markdown the
/// way rustdoc reads it: one space of indentation removed from each line.
fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(pair) => match &pair.value {
                Expr::Lit(literal) => match &literal.lit {
                    Lit::Str(text) => Some(text.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .flat_map(|text| {
            text.lines()
                .map(|line| line.strip_prefix(' ').unwrap_or(line).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}
