//! The fallback of `#[derive(Backend)]`: the enum's impls and a pools struct
//! with the fields the real one would have, so that code naming them adds no
//! errors. Nothing for a generic enum (already an error): impls without its
//! parameters would only add errors.

use proc_macro2::TokenStream;
use quote::quote;

use super::{display_impl, key_impls};
use crate::ast::{Data, Input};

/// The fallback impls of a backend enum.
pub(super) fn expand(input: &Input<'_>) -> TokenStream {
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
    let display = display_impl(input);
    let key = key_impls(input, &private);
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

        #display

        #[automatically_derived]
        impl ::core::str::FromStr for #ident {
            type Err = #private::UnknownBackend;
            fn from_str(_: &str) -> ::core::result::Result<Self, Self::Err> {
                ::core::unreachable!()
            }
        }

        #key

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
