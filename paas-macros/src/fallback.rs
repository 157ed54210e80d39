//! Minimal impls emitted next to a derive's errors, so that code using the
//! type does not add a cascade of secondary errors ("`Zk` is not a proving
//! backend") to the one that matters. The bodies are never run: the crate
//! does not compile.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{Data, Derive, Input};

/// The fallback impls of the input's derive.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    match input.derive {
        Derive::TaskId => task_id(input),
        Derive::Backend => backend(input),
    }
}

fn task_id(input: &Input<'_>) -> TokenStream {
    if matches!(input.data, Data::Union { .. }) {
        return TokenStream::new();
    }
    let private = input.private();
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let self_bounds = if input.generics.params.is_empty() {
        quote!(#where_clause)
    } else {
        let own = where_clause.map(|w| &w.predicates);
        quote! {
            where #own Self: ::core::clone::Clone + ::core::cmp::Eq + ::core::hash::Hash
                + ::core::fmt::Debug + ::core::fmt::Display
                + ::core::marker::Send + ::core::marker::Sync + 'static
        }
    };
    let display = if input.attrs.no_display.is_some() {
        TokenStream::new()
    } else {
        quote! {
            #[automatically_derived]
            impl #impl_generics ::core::fmt::Display for #ident #ty_generics #where_clause {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::core::unreachable!()
                }
            }
        }
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

        #[automatically_derived]
        impl #impl_generics #private::TaskId for #ident #ty_generics #self_bounds {}

        #display
        #route
    }
}

fn backend(input: &Input<'_>) -> TokenStream {
    let Data::Enum { variants } = &input.data else {
        return TokenStream::new();
    };
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let private = input.private();
    let ident = input.ident;
    let vis = input.vis;
    let pools = input.pools_ident();
    let mut fields = Vec::new();
    for variant in variants {
        let field = variant.pools_field();
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    quote! {
        #[automatically_derived]
        impl #private::Backend for #ident {
            const ALL: &'static [Self] = &[];
            type Pools = #pools;
            fn name(self) -> &'static str {
                ::core::unreachable!()
            }
            fn index(self) -> usize {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Display for #ident {
            fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl ::core::str::FromStr for #ident {
            type Err = #private::UnknownBackend;
            fn from_str(_: &str) -> ::core::result::Result<Self, Self::Err> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #private::KeyPart for #ident {
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
        impl #private::KeyListElement for #ident {}

        #[allow(missing_docs)]
        #vis struct #pools {
            #(#vis #fields: #private::PoolConfig,)*
        }

        #[automatically_derived]
        impl ::core::default::Default for #pools {
            fn default() -> Self {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<#pools> for #private::BackendMap<#ident, #private::PoolConfig> {
            fn from(_: #pools) -> Self {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #private::serde::Serialize for #pools {
            fn serialize<S: #private::serde::Serializer>(
                &self,
                _: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl<'de> #private::serde::Deserialize<'de> for #pools {
            fn deserialize<D: #private::serde::Deserializer<'de>>(
                _: D,
            ) -> ::core::result::Result<Self, D::Error> {
                ::core::unreachable!()
            }
        }
    }
}
