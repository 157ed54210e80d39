//! Derive macros for [`paas-core`](https://docs.rs/paas-core):
//! `#[derive(TaskId)]` and `#[derive(Backend)]`.
//!
//! Use them through paas-core (`use paas_core::{Backend, TaskId};`): the
//! generated code names paas-core's items by absolute path. The user guide is
//! `docs/derives.md` in the repository.
//!
//! The crate works in phases: `ast` reads the input and its `#[paas]`
//! attributes (`attr`), `valid` checks what needs the whole input, `expand`
//! generates the impls, and on any error `fallback` emits a minimal impl next
//! to the errors so the user sees those errors alone.

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

#[doc = include_str!("../doc/task_id.md")]
#[proc_macro_derive(TaskId, attributes(paas))]
pub fn derive_task_id(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_task_id(&input).into()
}

#[doc = include_str!("../doc/backend.md")]
#[proc_macro_derive(Backend, attributes(paas))]
pub fn derive_backend(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_backend(&input).into()
}
