//! Minimal impls emitted next to a derive's errors, so that code using the
//! type does not add a cascade of secondary errors ("`Zk` is not a proving
//! backend") to the one that matters. The bodies are never run: the crate
//! does not compile.
//!
//! One file per derive: `task_id` and `backend`; the impls both derives
//! share (`KeyPart`, `KeyListElement`, `Display`) are here.

mod backend;
mod task_id;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{Derive, Input};

/// The fallback impls of the input's derive.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    match input.derive {
        Derive::TaskId => task_id::expand(input),
        Derive::Backend => backend::expand(input),
    }
}

/// `KeyPart` and `KeyListElement`, which both derives implement.
fn key_impls(input: &Input<'_>, private: &TokenStream) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::KeyPart for #ident #ty_generics #where_clause {
            fn encode_key(&self, _: &mut #private::std::vec::Vec<u8>) {
                ::core::unreachable!()
            }
            fn decode_key(
                _: &mut #private::KeyReader<'_>,
            ) -> ::core::result::Result<Self, #private::KeyError> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #impl_generics #private::KeyListElement for #ident #ty_generics #where_clause {}
    }
}

/// `Display`, which both derives implement.
fn display_impl(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::core::fmt::Display for #ident #ty_generics #where_clause {
            fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
        }
    }
}
