//! Checks that need the whole input: shapes each derive supports, and
//! constraints between attributes.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;

use crate::ast::{Data, Derive, Fields, Input, Style};
use crate::attr::DEFAULT_WEIGHT;
use crate::ctxt::Ctxt;
use crate::keys::Key;

impl Input<'_> {
    /// Runs the checks of the input's derive.
    pub(crate) fn validate(&self, cx: &mut Ctxt) {
        match self.derive {
            Derive::TaskId => self.validate_task_id(cx),
            Derive::Backend => self.validate_backend(cx),
        }
    }

    /// Checks a `#[derive(TaskId)]` input.
    fn validate_task_id(&self, cx: &mut Ctxt) {
        match &self.data {
            Data::Union { token } => cx.at(
                *token,
                "`#[derive(TaskId)]` cannot be used on a union: a task id must be a struct or an enum",
            ),
            Data::Struct { fields, .. } => one_backend_field(fields, "", cx),
            Data::Enum { variants } => {
                let routed = variants
                    .iter()
                    .find(|v| v.fields.backend_fields().next().is_some());
                for variant in variants {
                    one_backend_field(&variant.fields, " per variant", cx);
                    if let Some(example) = routed
                        && variant.fields.backend_fields().next().is_none()
                    {
                        cx.spanned(
                            variant.ident,
                            format!(
                                "variant `{}` has no `{}` field, but `{}` has one: when one variant marks its backend field, every variant must (or implement `RouteTo` by hand)",
                                variant.ident,
                                Key::Backend.attribute(),
                                example.ident
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Checks a `#[derive(Backend)]` input.
    fn validate_backend(&self, cx: &mut Ctxt) {
        let variants = match &self.data {
            Data::Enum { variants } => variants,
            Data::Struct { token, .. } => {
                cx.at(
                    *token,
                    "`#[derive(Backend)]` only works on a fieldless enum with one variant per backend, not on a struct",
                );
                return;
            }
            Data::Union { token } => {
                cx.at(
                    *token,
                    "`#[derive(Backend)]` only works on a fieldless enum with one variant per backend, not on a union",
                );
                return;
            }
        };
        if !self.generics.params.is_empty() {
            cx.spanned(
                self.generics,
                "a `#[derive(Backend)]` enum cannot have generic parameters",
            );
        }
        if variants.is_empty() {
            cx.spanned(
                self.ident,
                "a `#[derive(Backend)]` enum needs at least one variant: one per backend",
            );
        }
        let mut names: HashMap<String, &syn::Ident> = HashMap::new();
        let mut fields: HashMap<String, &syn::Ident> = HashMap::new();
        for variant in variants {
            if variant.fields.style != Style::Unit {
                cx.at(
                    variant.fields.span,
                    format!(
                        "backend variant `{}` cannot have fields: a backend is a fieldless enum variant",
                        variant.ident
                    ),
                );
            }
            let attrs = &variant.attrs;
            match attrs.workers {
                None if attrs.attempted(Key::Workers) => {}
                None => cx.spanned(
                    variant.ident,
                    format!(
                        "backend `{}` needs a worker count: add `{}` to the variant",
                        variant.ident,
                        Key::Workers.attribute()
                    ),
                ),
                Some(workers) if workers.value == 0 => cx.at(
                    workers.span,
                    format!(
                        "`{} = 0` gives a pool that can never run a task: use at least 1",
                        Key::Workers.name()
                    ),
                ),
                Some(_) => {}
            }
            if let Some(budget) = attrs.budget {
                let weight = attrs.weight.map_or(DEFAULT_WEIGHT, |w| w.value);
                if weight > budget.value {
                    let span = attrs.weight.map_or(budget.span, |w| w.span);
                    cx.at(
                        span,
                        format!(
                            "the default weight {weight} exceeds the pool budget {}: no task could ever start",
                            budget.value
                        ),
                    );
                }
            }
            let name = variant.backend_name();
            let field = variant.pools_field().to_string();
            if let Some(previous) = names.insert(name.clone(), variant.ident) {
                let at: &dyn ToTokens = match &attrs.name {
                    Some(lit) => lit,
                    None => variant.ident,
                };
                cx.spanned(
                    at,
                    format!(
                        "backend name `{name}` is already used by variant `{previous}`; give one of them `{}`",
                        Key::Name.attribute()
                    ),
                );
            } else if let Some(previous) = fields.insert(field.clone(), variant.ident) {
                cx.spanned(
                    variant.ident,
                    format!(
                        "variants `{previous}` and `{}` would both be the pools field `{field}`: rename one of them",
                        variant.ident
                    ),
                );
            }
        }
    }
}

/// At most one of `fields` may be marked `#[paas(backend)]`; `scope` ends
/// "only one field" in the message (`" per variant"`).
fn one_backend_field(fields: &Fields<'_>, scope: &str, cx: &mut Ctxt) {
    let mut marked = fields.backend_fields();
    let Some(first) = marked.next() else {
        return;
    };
    for extra in marked {
        cx.at(
            extra.attrs.backend.unwrap_or_else(Span::call_site),
            format!(
                "only one field{scope} can be marked `{}`; `{}` is already marked",
                Key::Backend.attribute(),
                first.member.to_token_stream()
            ),
        );
    }
}
