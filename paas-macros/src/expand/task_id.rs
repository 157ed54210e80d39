//! `#[derive(TaskId)]`: the key impls (`KeyPart`, `KeyListElement`,
//! `TaskId`) and `Display`. `RouteTo` is in `route`.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Member, Type};

use super::{respan, route};
use crate::ast::{Data, Field, Fields, Input, Style, Variant};
use crate::generics::{where_clause, where_fields};

/// `KeyPart`, `KeyListElement`, `TaskId`, `Display` (unless `no_display`)
/// and, with a `#[paas(backend)]` field, `RouteTo`.
pub(super) fn expand(input: &Input<'_>) -> TokenStream {
    let private = input.private();
    let ident = input.ident;
    let type_name = syn::ext::IdentExt::unraw(ident).to_string();
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let all_fields: Vec<&Field<'_>> = match &input.data {
        Data::Struct { fields, .. } => fields.list.iter().collect(),
        Data::Enum { variants } => variants.iter().flat_map(|v| &v.fields.list).collect(),
        Data::Union { .. } => Vec::new(),
    };
    let key_where = where_fields(
        input.generics,
        all_fields.iter().map(|f| f.ty),
        &quote!(#private::KeyPart),
    );

    let (encode, decode, display) = match &input.data {
        Data::Struct { fields, .. } => {
            let encode: Vec<_> = fields
                .list
                .iter()
                .map(|f| {
                    let key_part = key_part_of(f.ty, &private);
                    let member = &f.member;
                    quote!(#key_part::encode_key(&self.#member, out);)
                })
                .collect();
            let decoded: Vec<_> = fields
                .list
                .iter()
                .map(|f| {
                    let key_part = key_part_of(f.ty, &private);
                    quote!(#key_part::decode_key(input)?)
                })
                .collect();
            let construct = shaped(&quote!(Self), fields, &decoded);
            let args = fields
                .list
                .iter()
                .map(|f| {
                    let member = &f.member;
                    quote!(self.#member)
                })
                .collect();
            (
                quote!(#(#encode)*),
                quote!(::core::result::Result::Ok(#construct)),
                display_parts(&type_name, fields, args),
            )
        }
        Data::Enum { variants } => enum_bodies(variants, &type_name, &private),
        Data::Union { .. } => return TokenStream::new(),
    };
    let (out, input_arg) = if all_fields.is_empty() && matches!(input.data, Data::Struct { .. }) {
        (quote!(_out), quote!(_input))
    } else {
        (quote!(out), quote!(input))
    };

    let task_id_impl = task_id_impl(input, &private);

    let display_impl = if input.attrs.no_display.is_some() {
        TokenStream::new()
    } else {
        let display_where = where_fields(
            input.generics,
            all_fields.iter().map(|f| f.ty),
            &quote!(::core::fmt::Debug),
        );
        quote! {
            #[automatically_derived]
            impl #impl_generics ::core::fmt::Display for #ident #ty_generics #display_where {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    #display
                }
            }
        }
    };

    let route_impl = route::expand(input, &private);

    quote! {
        #[automatically_derived]
        impl #impl_generics #private::KeyPart for #ident #ty_generics #key_where {
            fn encode_key(&self, #out: &mut #private::std::vec::Vec<u8>) {
                #encode
            }

            fn decode_key(
                #input_arg: &mut #private::KeyReader<'_>,
            ) -> ::core::result::Result<Self, #private::KeyError> {
                #decode
            }
        }

        #[automatically_derived]
        impl #impl_generics #private::KeyListElement for #ident #ty_generics #key_where {}

        #task_id_impl
        #display_impl
        #route_impl
    }
}

/// `TaskId` itself (no methods). For a generic id it is bounded by the
/// supertraits on `Self`, so it holds exactly where they do (a derived
/// `Clone` on `Id<P>` needs `P: Clone`, say). The fallback emits it too.
pub(crate) fn task_id_impl(input: &Input<'_>, private: &TokenStream) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let self_bounds = if input.generics.params.is_empty() {
        where_clause(input.generics, &[])
    } else {
        where_clause(
            input.generics,
            &[quote! {
                Self: #private::KeyPart
                    + ::core::clone::Clone
                    + ::core::cmp::Eq
                    + ::core::hash::Hash
                    + ::core::fmt::Debug
                    + ::core::fmt::Display
                    + ::core::marker::Send
                    + ::core::marker::Sync
                    + 'static
            }],
        )
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::TaskId for #ident #ty_generics #self_bounds {}
    }
}

/// Encode, decode and display bodies of a task id enum.
fn enum_bodies(
    variants: &[Variant<'_>],
    type_name: &str,
    private: &TokenStream,
) -> (TokenStream, TokenStream, TokenStream) {
    if variants.is_empty() {
        return (
            quote!(match *self {}),
            quote! {
                let index = #private::KeyReader::variant(input)?;
                ::core::result::Result::Err(#private::KeyError::UnknownVariant {
                    type_name: #type_name,
                    index,
                })
            },
            quote!(match *self {}),
        );
    }
    let mut encode_arms = Vec::new();
    let mut decode_arms = Vec::new();
    let mut display_arms = Vec::new();
    for (position, variant) in variants.iter().enumerate() {
        let variant_ident = variant.ident;
        let path = quote!(Self::#variant_ident);
        let index = Literal::u32_suffixed(u32::try_from(position).unwrap_or(u32::MAX));
        let pattern = bind_all(&path, &variant.fields);
        let encodes = variant.fields.list.iter().enumerate().map(|(i, f)| {
            let key_part = key_part_of(f.ty, private);
            let bound = binding(i);
            quote!(#key_part::encode_key(#bound, out);)
        });
        encode_arms.push(quote! {
            #pattern => {
                #private::write_variant(#index, out);
                #(#encodes)*
            }
        });
        let decoded: Vec<_> = variant
            .fields
            .list
            .iter()
            .map(|f| {
                let key_part = key_part_of(f.ty, private);
                quote!(#key_part::decode_key(input)?)
            })
            .collect();
        let construct = shaped(&path, &variant.fields, &decoded);
        decode_arms.push(quote!(#index => ::core::result::Result::Ok(#construct),));
        let args = (0..variant.fields.list.len())
            .map(|i| binding(i).into_token_stream())
            .collect();
        let display = display_parts(&variant.plain_name(), &variant.fields, args);
        display_arms.push(quote!(#pattern => #display,));
    }
    (
        quote!(match self { #(#encode_arms)* }),
        quote! {
            match #private::KeyReader::variant(input)? {
                #(#decode_arms)*
                index => ::core::result::Result::Err(#private::KeyError::UnknownVariant {
                    type_name: #type_name,
                    index,
                }),
            }
        },
        quote!(match self { #(#display_arms)* }),
    )
}

/// The binding a generated `match` arm gives field `i`.
fn binding(i: usize) -> Ident {
    format_ident!("field_{}", i)
}

/// `<FieldTy as KeyPart>`, spanned at the field type so that a type that
/// cannot be part of a key is reported there.
fn key_part_of(ty: &Type, private: &TokenStream) -> TokenStream {
    let key_part = respan(&quote!(#private::KeyPart), ty.span());
    quote_spanned!(ty.span()=> <#ty as #key_part>)
}

/// A pattern or constructor for `path` with the given per-field parts.
fn shaped(path: &TokenStream, fields: &Fields<'_>, parts: &[TokenStream]) -> TokenStream {
    match fields.style {
        Style::Unit => quote!(#path),
        Style::Tuple => quote!(#path(#(#parts),*)),
        Style::Named => {
            let members = fields.list.iter().map(|f| &f.member);
            quote!(#path { #(#members: #parts),* })
        }
    }
}

/// A pattern binding every field of a variant to `field_0`, `field_1`, ...
fn bind_all(path: &TokenStream, fields: &Fields<'_>) -> TokenStream {
    let parts: Vec<_> = (0..fields.list.len())
        .map(|i| binding(i).into_token_stream())
        .collect();
    shaped(path, fields, &parts)
}

/// The `Display` format string and arguments for a value shaped like `fields`.
fn display_parts(name: &str, fields: &Fields<'_>, args: Vec<TokenStream>) -> TokenStream {
    let mut format = name.to_string();
    if !fields.list.is_empty() {
        let inner: Vec<String> = fields
            .list
            .iter()
            .map(|f| match &f.member {
                Member::Named(ident) => {
                    format!("{}={{:?}}", syn::ext::IdentExt::unraw(ident))
                }
                Member::Unnamed(_) => "{:?}".to_string(),
            })
            .collect();
        format.push('(');
        format.push_str(&inner.join(", "));
        format.push(')');
    }
    if args.is_empty() {
        quote!(::core::fmt::Formatter::write_str(f, #format))
    } else {
        quote!(::core::write!(f, #format, #(#args),*))
    }
}
