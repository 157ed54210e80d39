//! `#[derive(TaskId)]`: `RouteTo` for the field marked `#[paas(backend)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

use super::respan;
use crate::ast::{Data, Input, Style};
use crate::generics::where_fields;

/// `RouteTo<FieldTy>` for a task id with `#[paas(backend)]` fields; nothing
/// without one.
pub(super) fn expand(input: &Input<'_>, private: &TokenStream) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let (target, body) = match &input.data {
        Data::Struct { fields, .. } => {
            let Some(field) = fields.backend_fields().next() else {
                return TokenStream::new();
            };
            let member = &field.member;
            let call = respan(
                &quote!(#private::route_field(&self.#member)),
                field.ty.span(),
            );
            (field.ty, call)
        }
        Data::Enum { variants } => {
            let mut target = None;
            let mut arms = Vec::new();
            for variant in variants {
                let Some((position, field)) = variant
                    .fields
                    .list
                    .iter()
                    .enumerate()
                    .find(|(_, f)| f.attrs.backend.is_some())
                else {
                    return TokenStream::new();
                };
                target.get_or_insert(field.ty);
                let variant_ident = variant.ident;
                let pattern = match variant.fields.style {
                    Style::Named => {
                        let member = &field.member;
                        quote!(Self::#variant_ident { #member: backend, .. })
                    }
                    _ => {
                        let skipped = (0..position).map(|_| quote!(_));
                        quote!(Self::#variant_ident(#(#skipped,)* backend, ..))
                    }
                };
                let call = respan(&quote!(#private::route_field(backend)), field.ty.span());
                arms.push(quote!(#pattern => #call,));
            }
            let Some(target) = target else {
                return TokenStream::new();
            };
            (target, quote!(match self { #(#arms)* }))
        }
        Data::Union { .. } => return TokenStream::new(),
    };
    let route_where = where_fields(input.generics, [target], &quote!(#private::Backend));
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::RouteTo<#target> for #ident #ty_generics #route_where {
            #[inline]
            fn route(&self) -> #target {
                #body
            }
        }
    }
}
