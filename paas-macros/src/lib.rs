//! Derive macros for `paas-core`. Use them through `paas_core::{TaskId, Backend}`.

use proc_macro::TokenStream;

/// Derives `paas_core::TaskId` (placeholder while the derive is written).
#[proc_macro_derive(TaskId, attributes(paas))]
pub fn derive_task_id(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// Derives `paas_core::Backend` (placeholder while the derive is written).
#[proc_macro_derive(Backend, attributes(paas))]
pub fn derive_backend(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
