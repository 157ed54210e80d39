//! The fallback of `#[derive(TaskId)]`: `TaskId`, the key impls, `Display`
//! (unless `no_display`) and `RouteTo` for a `#[paas(backend)]` field.

use proc_macro2::TokenStream;
use quote::quote;

use super::{display_impl, key_impls};
use crate::ast::{Data, Input};
use crate::expand::task_id_impl;

/// The fallback impls of a task id; nothing for a union.
pub(super) fn expand(input: &Input<'_>) -> TokenStream {
    if matches!(input.data, Data::Union { .. }) {
        return TokenStream::new();
    }
    let private = input.private();
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let key = key_impls(input, &private);
    let task_id = task_id_impl(input, &private);
    let display = if input.attrs.no_display.is_some() {
        TokenStream::new()
    } else {
        display_impl(input)
    };
    let backend_ty = match &input.data {
        Data::Struct { fields, .. } => fields.backend_fields().next().map(|f| f.ty),
        Data::Enum { variants } => variants
            .iter()
            .find_map(|v| v.fields.backend_fields().next())
            .map(|f| f.ty),
        Data::Union { .. } => None,
    };
    let route = backend_ty.map(|ty| {
        quote! {
            #[automatically_derived]
            impl #impl_generics #private::RouteTo<#ty> for #ident #ty_generics #where_clause {
                fn route(&self) -> #ty {
                    ::core::unreachable!()
                }
            }
        }
    });
    quote! {
        #key

        #task_id

        #display
        #route
    }
}
