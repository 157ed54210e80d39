//! Code generation for both derives.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Member, Type};

use crate::ast::{Data, Derive, Field, Fields, Input, Style, Variant};
use crate::generics::{field_bounds, where_clause};

/// The impls of a checked input.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    match input.derive {
        Derive::TaskId => task_id(input),
        Derive::Backend => backend(input),
    }
}

/// The path of paas-core's hidden support module.
pub(crate) fn private(input: &Input<'_>) -> TokenStream {
    match &input.attrs.krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::paas_core::__private),
    }
}

/// `tokens` with every token moved to `span`, so that an error about the
/// whole expression (an unsatisfied bound on a called function, say) points
/// at the user's code rather than at the derive.
fn respan(tokens: &TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
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

fn task_id(input: &Input<'_>) -> TokenStream {
    let private = private(input);
    let ident = input.ident;
    let type_name = syn::ext::IdentExt::unraw(ident).to_string();
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let all_fields: Vec<&Field<'_>> = match &input.data {
        Data::Struct { fields, .. } => fields.list.iter().collect(),
        Data::Enum { variants } => variants.iter().flat_map(|v| &v.fields.list).collect(),
        Data::Union { .. } => Vec::new(),
    };
    let key_where = where_clause(
        input.generics,
        &field_bounds(
            input.generics,
            all_fields.iter().map(|f| f.ty),
            &quote!(#private::KeyPart),
        ),
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

    let display_impl = if input.attrs.no_display.is_some() {
        TokenStream::new()
    } else {
        let display_where = where_clause(
            input.generics,
            &field_bounds(
                input.generics,
                all_fields.iter().map(|f| f.ty),
                &quote!(::core::fmt::Debug),
            ),
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

    let route_impl = route_to(input, &private);

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

        #[automatically_derived]
        impl #impl_generics #private::TaskId for #ident #ty_generics #self_bounds {}

        #display_impl
        #route_impl
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

/// `RouteTo<FieldTy>` for a task id with `#[paas(backend)]` fields.
fn route_to(input: &Input<'_>, private: &TokenStream) -> TokenStream {
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
    let route_where = where_clause(
        input.generics,
        &field_bounds(input.generics, [target], &quote!(#private::Backend)),
    );
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

/// One backend variant, ready for code generation.
pub(crate) struct BackendInfo<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) name: String,
    pub(crate) field: Ident,
    workers: u64,
    weight: Option<u64>,
    budget: Option<u64>,
}

impl<'a> BackendInfo<'a> {
    pub(crate) fn of(variant: &'a Variant<'a>) -> Self {
        BackendInfo {
            ident: variant.ident,
            name: variant.backend_name(),
            field: variant.pools_field(),
            workers: variant.attrs.workers.map_or(1, |w| w.value),
            weight: variant.attrs.weight.map(|w| w.value),
            budget: variant.attrs.budget.map(|b| b.value),
        }
    }

    fn pool(&self, private: &TokenStream) -> TokenStream {
        let workers = Literal::u64_unsuffixed(self.workers);
        let mut pool = quote!(#private::PoolConfig::new(#workers));
        if let Some(weight) = self.weight {
            let weight = Literal::u64_unsuffixed(weight);
            pool = quote!(#pool.with_weight(#weight));
        }
        if let Some(budget) = self.budget {
            let budget = Literal::u64_unsuffixed(budget);
            pool = quote!(#pool.with_budget(#budget));
        }
        pool
    }

    fn describe_default(&self) -> String {
        let workers = match self.workers {
            1 => "1 worker".to_string(),
            n => format!("{n} workers"),
        };
        let budget = match self.budget {
            Some(b) => format!("budget {b}"),
            None => "no budget".to_string(),
        };
        format!("{workers}, weight {}, {budget}", self.weight.unwrap_or(1))
    }
}

/// The name of the generated pools struct.
pub(crate) fn pools_ident(input: &Input<'_>) -> Ident {
    format_ident!("{}Pools", syn::ext::IdentExt::unraw(input.ident))
}

fn backend(input: &Input<'_>) -> TokenStream {
    let Data::Enum { variants } = &input.data else {
        return TokenStream::new();
    };
    let private = private(input);
    let ident = input.ident;
    let vis = input.vis;
    let type_name = syn::ext::IdentExt::unraw(ident).to_string();
    let pools = pools_ident(input);
    let infos: Vec<_> = variants.iter().map(BackendInfo::of).collect();
    let variant_idents: Vec<_> = infos.iter().map(|b| b.ident).collect();
    let names: Vec<_> = infos.iter().map(|b| b.name.as_str()).collect();
    let fields: Vec<_> = infos.iter().map(|b| &b.field).collect();
    let indices: Vec<_> = (0..infos.len()).map(Literal::usize_unsuffixed).collect();
    let tags: Vec<_> = (0..infos.len())
        .map(|i| Literal::u32_suffixed(u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let defaults: Vec<_> = infos.iter().map(|b| b.pool(&private)).collect();
    let count = Literal::usize_unsuffixed(infos.len());

    let struct_doc = format!(
        "Worker pools of the [`{type_name}`] backends, one field per backend.\n\n\
         Generated by `#[derive(Backend)]`. `Default` gives the pools declared \
         with `#[paas(workers = ..)]`. With serde, it reads a map from backend \
         name to pool (`workers`, `weight`, `budget`): a backend or key left out \
         keeps its declared default, and an unknown backend name or a pool \
         without workers is an error."
    );
    let field_docs = infos.iter().map(|b| {
        format!(
            "The pool of [`{type_name}::{}`] (`{}`). Declared default: {}.",
            syn::ext::IdentExt::unraw(b.ident),
            b.name,
            b.describe_default()
        )
    });

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

        #[doc = #struct_doc]
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
        )]
        #[allow(clippy::struct_field_names)]
        #vis struct #pools {
            #(
                #[doc = #field_docs]
                #vis #fields: #private::PoolConfig,
            )*
        }

        #[automatically_derived]
        impl ::core::default::Default for #pools {
            fn default() -> Self {
                Self {
                    #(#fields: #defaults,)*
                }
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<#pools> for #private::BackendMap<#ident, #private::PoolConfig> {
            fn from(pools: #pools) -> Self {
                #private::BackendMap::from_fn(|backend| match backend {
                    #(#ident::#variant_idents => pools.#fields,)*
                })
            }
        }

        #[automatically_derived]
        impl #private::serde::Serialize for #pools {
            fn serialize<S: #private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                let mut map = #private::serde::Serializer::serialize_map(
                    serializer,
                    ::core::option::Option::Some(#count),
                )?;
                #(
                    #private::serde::ser::SerializeMap::serialize_entry(&mut map, #names, &self.#fields)?;
                )*
                #private::serde::ser::SerializeMap::end(map)
            }
        }

        #[automatically_derived]
        impl<'de> #private::serde::Deserialize<'de> for #pools {
            fn deserialize<D: #private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let pools = #private::deserialize_pools::<#ident, D>(deserializer, &[#(#names),*])?;
                ::core::result::Result::Ok(Self {
                    #(#fields: pools[#ident::#variant_idents],)*
                })
            }
        }
    }
}
