//! `#[derive(Backend)]`: the backend enum's impls. The pools struct is in
//! `pools`.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::pools;
use crate::ast::{Data, Input, Variant};

/// `Backend`, `Display`, `FromStr`, `KeyPart` and `KeyListElement` for the
/// enum, and its pools struct.
pub(super) fn expand(input: &Input<'_>) -> TokenStream {
    let Data::Enum { variants } = &input.data else {
        return TokenStream::new();
    };
    let private = input.private();
    let ident = input.ident;
    let type_name = syn::ext::IdentExt::unraw(ident).to_string();
    let pools = input.pools_ident();
    let variant_idents: Vec<_> = variants.iter().map(|v| v.ident).collect();
    let names: Vec<_> = variants.iter().map(Variant::backend_name).collect();
    let indices: Vec<_> = (0..variants.len()).map(Literal::usize_unsuffixed).collect();
    let tags: Vec<_> = (0..variants.len())
        .map(|i| Literal::u32_suffixed(u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let pools_impls = pools::expand(input, variants, &private);

    quote! {
        #[automatically_derived]
        impl #private::Backend for #ident {
            const ALL: &'static [Self] = &[#(Self::#variant_idents),*];
            type Pools = #pools;

            #[inline]
            fn name(self) -> &'static str {
                match self {
                    #(Self::#variant_idents => #names,)*
                }
            }

            #[inline]
            fn index(self) -> usize {
                match self {
                    #(Self::#variant_idents => #indices,)*
                }
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Formatter::write_str(f, #private::Backend::name(*self))
            }
        }

        #[automatically_derived]
        impl ::core::str::FromStr for #ident {
            type Err = #private::UnknownBackend;

            fn from_str(name: &str) -> ::core::result::Result<Self, Self::Err> {
                match name {
                    #(#names => ::core::result::Result::Ok(Self::#variant_idents),)*
                    _ => ::core::result::Result::Err(#private::UnknownBackend::new(name, &[#(#names),*])),
                }
            }
        }

        #[automatically_derived]
        impl #private::KeyPart for #ident {
            fn encode_key(&self, out: &mut #private::std::vec::Vec<u8>) {
                let tag = match self {
                    #(Self::#variant_idents => #tags,)*
                };
                #private::write_variant(tag, out);
            }

            fn decode_key(
                input: &mut #private::KeyReader<'_>,
            ) -> ::core::result::Result<Self, #private::KeyError> {
                match #private::KeyReader::variant(input)? {
                    #(#tags => ::core::result::Result::Ok(Self::#variant_idents),)*
                    index => ::core::result::Result::Err(#private::KeyError::UnknownVariant {
                        type_name: #type_name,
                        index,
                    }),
                }
            }
        }

        #[automatically_derived]
        impl #private::KeyListElement for #ident {}

        #pools_impls
    }
}
