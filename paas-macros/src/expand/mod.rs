//! Code generation for a checked input, one file per derive: `task_id`
//! (with `route` for `#[paas(backend)]`) and `backend` (with `pools` for the
//! generated pools struct). The generated code names every item by absolute
//! path and marks each impl `#[automatically_derived]`.

mod backend;
mod pools;
mod route;
mod task_id;

use proc_macro2::{Group, Span, TokenStream, TokenTree};

use crate::ast::{Derive, Input};

pub(crate) use task_id::task_id_impl;

/// The impls of a checked input.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    match input.derive {
        Derive::TaskId => task_id::expand(input),
        Derive::Backend => backend::expand(input),
    }
}

/// `tokens` with every token moved to `span`, so that an error about the
/// whole expression (an unsatisfied bound on a called function, say) points
/// at the user's code rather than at the derive.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}
