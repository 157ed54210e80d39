//! Derive macros for [`paas-core`](https://docs.rs/paas-core):
//! `#[derive(TaskId)]` and `#[derive(Backend)]`.
//!
//! Use them through paas-core (`use paas_core::{Backend, TaskId};`): the
//! generated code names paas-core's items by absolute path. The user guide is
//! `docs/derives.md` in the repository.
//!
//! # How the crate is built
//!
//! Both derives run one pipeline (`derive` below), in phases:
//!
//! 1. `ast` reads the input into a borrowed view, parsing its `#[paas]`
//!    attributes with `attr`. `keys` is the table of every key and the places
//!    it is allowed.
//! 2. `valid` checks what needs the whole input (shapes, required keys,
//!    constraints between keys).
//! 3. Both phases push their errors into a `ctxt::Ctxt` and carry on;
//!    `Ctxt::check` then returns them all at once (an unchecked context
//!    panics on drop).
//! 4. Without errors, `expand` generates the impls: `expand/task_id.rs` and
//!    `expand/route.rs` for `TaskId`, `expand/backend.rs` and
//!    `expand/pools.rs` for `Backend`. With errors, `fallback` (one file per
//!    derive) emits minimal impls next to them, so that code using the type
//!    adds no secondary errors.
//!
//! `generics` computes the bounds of generic task ids; `names` holds the
//! `snake_case` default backend names and the "did you mean" suggestions.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod generics;
mod keys;
mod names;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::ast::{Derive, Input};
use crate::ctxt::Ctxt;

#[doc = include_str!("../doc/task_id.md")]
#[proc_macro_derive(TaskId, attributes(paas))]
pub fn derive_task_id(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input, Derive::TaskId).into()
}

#[doc = include_str!("../doc/backend.md")]
#[proc_macro_derive(Backend, attributes(paas))]
pub fn derive_backend(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input, Derive::Backend).into()
}

/// The pipeline both derives run: read the input, then check and expand it;
/// on any error, the fallback impls followed by every error at once.
fn derive(node: &DeriveInput, derive: Derive) -> proc_macro2::TokenStream {
    let mut cx = Ctxt::new();
    let input = Input::from_syn(node, derive, &mut cx);
    match try_expand(&input, cx) {
        Ok(tokens) => tokens,
        Err(errors) => {
            let mut tokens = fallback::expand(&input);
            tokens.extend(errors.to_compile_error());
            tokens
        }
    }
}

/// Checks `input` (on top of the errors reading it left in `cx`) and, if
/// nothing is wrong, generates its impls.
fn try_expand(input: &Input<'_>, mut cx: Ctxt) -> syn::Result<proc_macro2::TokenStream> {
    input.validate(&mut cx);
    cx.check()?;
    Ok(expand::expand(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `compile_error!` messages in `tokens`, in order.
    fn errors_in(tokens: &proc_macro2::TokenStream) -> Vec<String> {
        let text = tokens.to_string();
        text.split(":: core :: compile_error !")
            .skip(1)
            .map(|rest| rest.split('"').nth(1).unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn a_valid_input_expands_without_errors() {
        let node: DeriveInput = syn::parse_quote! {
            enum Zk {
                #[paas(workers = 2)]
                Native,
            }
        };
        let tokens = derive(&node, Derive::Backend);
        assert!(errors_in(&tokens).is_empty(), "{tokens}");
        assert!(tokens.to_string().contains("struct ZkPools"));
    }

    #[test]
    fn an_invalid_input_gives_the_fallback_then_every_error() {
        let node: DeriveInput = syn::parse_quote! {
            enum Zk {
                #[paas(workers = 0)]
                Native,
                #[paas(wokers = 1)]
                Sp1,
            }
        };
        let tokens = derive(&node, Derive::Backend);
        assert_eq!(
            errors_in(&tokens),
            [
                "unknown key `wokers` in `#[paas(...)]` on a variant of a `#[derive(Backend)]` enum; did you mean `workers`?",
                "`workers = 0` gives a pool that can never run a task: use at least 1",
            ]
        );
        let text = tokens.to_string();
        let fallback = text.find("struct ZkPools").unwrap_or(usize::MAX);
        let first_error = text.find("compile_error").unwrap_or(0);
        assert!(fallback < first_error, "{text}");
    }

    #[test]
    fn the_fallback_is_valid_rust() {
        let inputs: [(DeriveInput, Derive); 4] = [
            (
                syn::parse_quote! {
                    struct Id<P> where P: Clone {
                        #[paas(wokers = 1)]
                        program: P,
                        #[paas(backend)]
                        on: Zk,
                    }
                },
                Derive::TaskId,
            ),
            (
                syn::parse_quote! {
                    #[paas(no_display, crate = ::other::paas_core)]
                    enum Job<const N: usize> {
                        Ping(#[paas(backend)] Zk, #[paas(backend)] Zk),
                    }
                },
                Derive::TaskId,
            ),
            (
                syn::parse_quote! {
                    pub enum Zk {
                        #[paas(workers = 0)]
                        Native,
                        #[paas(workers = "2")]
                        Sp1(u8),
                    }
                },
                Derive::Backend,
            ),
            (
                syn::parse_quote! {
                    struct NotAnEnum;
                },
                Derive::Backend,
            ),
        ];
        for (node, which) in inputs {
            let tokens = derive(&node, which);
            assert!(!errors_in(&tokens).is_empty(), "{tokens}");
            if let Err(error) = syn::parse2::<syn::File>(tokens.clone()) {
                panic!("{error}: {tokens}");
            }
        }
    }
}
