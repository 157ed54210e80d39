//! Bounds for generic inputs: which field types mention a type or const
//! parameter, so the impls can require exactly what those fields need.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::{GenericParam, Generics, Ident, Type};

/// The names of the type and const parameters of `generics`.
pub(crate) fn param_names(generics: &Generics) -> HashSet<&Ident> {
    generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(&t.ident),
            GenericParam::Const(c) => Some(&c.ident),
            GenericParam::Lifetime(_) => None,
        })
        .collect()
}

/// Whether `ty` names one of `params`.
pub(crate) fn mentions(ty: &Type, params: &HashSet<&Ident>) -> bool {
    struct Finder<'p, 'i> {
        params: &'p HashSet<&'i Ident>,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_, '_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if path.leading_colon.is_none()
                && path
                    .segments
                    .first()
                    .is_some_and(|s| self.params.contains(&s.ident))
            {
                self.found = true;
            }
            syn::visit::visit_path(self, path);
        }
    }
    if params.is_empty() {
        return false;
    }
    let mut finder = Finder {
        params,
        found: false,
    };
    finder.visit_type(ty);
    finder.found
}

/// `where` + the input's own predicates + `extra`, or nothing if there are none.
pub(crate) fn where_clause(generics: &Generics, extra: &[TokenStream]) -> TokenStream {
    let own: Vec<TokenStream> = generics
        .where_clause
        .as_ref()
        .map(|w| w.predicates.iter().map(ToTokens::to_token_stream).collect())
        .unwrap_or_default();
    if own.is_empty() && extra.is_empty() {
        return TokenStream::new();
    }
    quote!(where #(#own,)* #(#extra,)*)
}

/// `where` + the input's own predicates + `FieldTy: bound` for each field
/// type in `types` that mentions a parameter (or nothing if that is empty).
pub(crate) fn where_fields<'t>(
    generics: &Generics,
    types: impl IntoIterator<Item = &'t Type>,
    bound: &TokenStream,
) -> TokenStream {
    where_clause(generics, &field_bounds(generics, types, bound))
}

/// `FieldTy: bound` for each distinct field type that mentions a parameter.
fn field_bounds<'t>(
    generics: &Generics,
    types: impl IntoIterator<Item = &'t Type>,
    bound: &TokenStream,
) -> Vec<TokenStream> {
    let params = param_names(generics);
    let mut seen = HashSet::new();
    types
        .into_iter()
        .filter(|ty| mentions(ty, &params))
        .filter(|ty| seen.insert(ty.to_token_stream().to_string()))
        .map(|ty| quote!(#ty: #bound))
        .collect()
}
