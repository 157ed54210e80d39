//! A borrowed view of the derive input with its `#[paas]` attributes parsed.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data as SynData, DeriveInput, Generics, Ident, Index, Member, Type, Visibility};

use crate::attr::Attrs;
use crate::ctxt::Ctxt;
use crate::keys::Place;

/// Which derive is running: it decides which keys each place accepts, which
/// checks run and which impls are generated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derive {
    TaskId,
    Backend,
}

impl Derive {
    fn places(self) -> (Place, Place, Place) {
        match self {
            Derive::TaskId => (Place::TaskIdType, Place::TaskIdVariant, Place::TaskIdField),
            Derive::Backend => (
                Place::BackendType,
                Place::BackendVariant,
                Place::BackendField,
            ),
        }
    }
}

/// The derive input: the type, its attributes and its fields.
pub(crate) struct Input<'a> {
    pub(crate) derive: Derive,
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) attrs: Attrs,
    pub(crate) data: Data<'a>,
}

pub(crate) enum Data<'a> {
    Struct { token: Span, fields: Fields<'a> },
    Enum { variants: Vec<Variant<'a>> },
    Union { token: Span },
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: Attrs,
    pub(crate) fields: Fields<'a>,
}

/// The fields of a struct or variant.
pub(crate) struct Fields<'a> {
    pub(crate) style: Style,
    pub(crate) list: Vec<Field<'a>>,
    /// The span of the whole field list (for "this variant has fields").
    pub(crate) span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Named,
    Tuple,
    Unit,
}

pub(crate) struct Field<'a> {
    /// `name` or `0`: how to reach the field.
    pub(crate) member: Member,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: Attrs,
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(input: &'a DeriveInput, derive: Derive, cx: &mut Ctxt) -> Self {
        let (type_place, variant_place, field_place) = derive.places();
        let data = match &input.data {
            SynData::Struct(s) => Data::Struct {
                token: s.struct_token.span,
                fields: Fields::from_syn(&s.fields, field_place, cx),
            },
            SynData::Enum(e) => Data::Enum {
                variants: e
                    .variants
                    .iter()
                    .map(|v| Variant {
                        ident: &v.ident,
                        attrs: Attrs::parse(&v.attrs, variant_place, cx),
                        fields: Fields::from_syn(&v.fields, field_place, cx),
                    })
                    .collect(),
            },
            SynData::Union(u) => Data::Union {
                token: u.union_token.span,
            },
        };
        Input {
            derive,
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs: Attrs::parse(&input.attrs, type_place, cx),
            data,
        }
    }
}

impl Input<'_> {
    /// The path of paas-core's hidden support module, through
    /// `#[paas(crate = ..)]` if given.
    pub(crate) fn private(&self) -> TokenStream {
        match &self.attrs.krate {
            Some(path) => quote!(#path::__private),
            None => quote!(::paas_core::__private),
        }
    }

    /// The name of the pools struct `#[derive(Backend)]` generates.
    pub(crate) fn pools_ident(&self) -> Ident {
        format_ident!("{}Pools", syn::ext::IdentExt::unraw(self.ident))
    }
}

impl<'a> Fields<'a> {
    fn from_syn(fields: &'a syn::Fields, place: Place, cx: &mut Ctxt) -> Self {
        let style = match fields {
            syn::Fields::Named(_) => Style::Named,
            syn::Fields::Unnamed(_) => Style::Tuple,
            syn::Fields::Unit => Style::Unit,
        };
        let list = fields
            .iter()
            .enumerate()
            .map(|(i, field)| Field {
                member: match &field.ident {
                    Some(ident) => Member::Named(ident.clone()),
                    None => Member::Unnamed(Index {
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                        span: field.ty.span(),
                    }),
                },
                ty: &field.ty,
                attrs: Attrs::parse(&field.attrs, place, cx),
            })
            .collect();
        Fields {
            style,
            list,
            span: fields.span(),
        }
    }

    /// The fields marked `#[paas(backend)]`.
    pub(crate) fn backend_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.list.iter().filter(|f| f.attrs.backend.is_some())
    }
}

impl Variant<'_> {
    /// The variant's name without a raw-identifier prefix.
    pub(crate) fn plain_name(&self) -> String {
        syn::ext::IdentExt::unraw(self.ident).to_string()
    }

    /// The backend's stable name: `#[paas(name = "...")]`, or the variant in `snake_case`.
    pub(crate) fn backend_name(&self) -> String {
        match &self.attrs.name {
            Some(name) => name.value(),
            None => crate::names::snake_case(&self.plain_name()),
        }
    }

    /// The field of the generated pools struct for this backend: the variant
    /// in `snake_case`, with `_` appended if that is a keyword.
    pub(crate) fn pools_field(&self) -> Ident {
        let snake = crate::names::snake_case(&self.plain_name());
        match syn::parse_str::<Ident>(&snake) {
            Ok(ident) => Ident::new(&ident.to_string(), self.ident.span()),
            Err(_) => Ident::new(&format!("{snake}_"), self.ident.span()),
        }
    }
}
