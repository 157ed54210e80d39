//! Parsing of `#[paas(...)]` attributes.
//!
//! Both derives share the `paas` attribute. Each place an attribute can sit
//! (the type, an enum variant, a field) accepts its own keys, as the table in
//! `keys` says; a key used in the wrong place, an unknown key, a duplicate
//! key or a value of the wrong kind is an error spanned at the offending
//! token.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Path, Token, UnOp};

use crate::ctxt::Ctxt;
use crate::keys::{Key, Place};
use crate::names::did_you_mean;

/// The weight of one task when its backend variant gives no `weight`, as
/// paas-core's `PoolConfig::new` has it.
pub(crate) const DEFAULT_WEIGHT: u64 = 1;

/// An integer attribute value and where it was written.
#[derive(Clone, Copy)]
pub(crate) struct Int {
    pub(crate) value: u64,
    pub(crate) span: Span,
}

/// The parsed `#[paas(...)]` keys of one item. Only keys valid for the place
/// the attributes were parsed for are ever set.
#[derive(Default)]
pub(crate) struct Attrs {
    /// `crate = path`: where paas-core lives.
    pub(crate) krate: Option<Path>,
    /// `no_display`: do not generate `Display`.
    pub(crate) no_display: Option<Span>,
    /// `backend`: this field holds the backend.
    pub(crate) backend: Option<Span>,
    /// `name = "..."`: the backend's name.
    pub(crate) name: Option<LitStr>,
    /// `workers = N`.
    pub(crate) workers: Option<Int>,
    /// `weight = W`.
    pub(crate) weight: Option<Int>,
    /// `budget = B`.
    pub(crate) budget: Option<Int>,
    /// Keys given, valid or not (for duplicates).
    given: Vec<Key>,
    /// Keys given or suggested for a misspelled key: a key the user tried
    /// to set is not reported missing on top of its own error.
    attempted: Vec<Key>,
}

impl Attrs {
    /// Parses every `#[paas(...)]` among `attrs` for `place`, recording errors in `cx`.
    pub(crate) fn parse(attrs: &[Attribute], place: Place, cx: &mut Ctxt) -> Attrs {
        let mut out = Attrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("paas")) {
            let metas = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            {
                Ok(metas) => metas,
                Err(err) => {
                    cx.push(err);
                    continue;
                }
            };
            for meta in &metas {
                out.parse_one(meta, place, cx);
            }
        }
        out
    }

    fn parse_one(&mut self, meta: &Meta, place: Place, cx: &mut Ctxt) {
        let accepted: Vec<&str> = place.keys().map(Key::name).collect();
        let Some(ident) = meta.path().get_ident() else {
            cx.spanned(
                meta.path(),
                format!(
                    "expected a key such as {}, found a path",
                    quoted_list(&accepted).unwrap_or_else(|| format!("`{}`", Key::Workers.name()))
                ),
            );
            return;
        };
        let written = ident.to_string();
        let Some(key) = Key::named(&written).filter(|key| key.allowed_on(place)) else {
            if let Some(suggestion) = did_you_mean(&written, &accepted).and_then(Key::named) {
                self.attempted.push(suggestion);
            }
            cx.spanned(ident, unknown_key_message(&written, place, &accepted));
            return;
        };
        if self.given.contains(&key) {
            cx.spanned(
                ident,
                format!("duplicate key `{written}`: each key may be given once per item"),
            );
            return;
        }
        self.given.push(key);
        self.attempted.push(key);
        match key {
            Key::Crate => self.krate = crate_path(meta, key, cx),
            Key::NoDisplay => self.no_display = flag(meta, key, cx),
            Key::Backend => self.backend = flag(meta, key, cx),
            Key::Name => self.name = name(meta, key, cx),
            Key::Workers => self.workers = integer(meta, key, cx),
            Key::Weight => self.weight = integer(meta, key, cx),
            Key::Budget => self.budget = integer(meta, key, cx),
        }
    }
}

impl Attrs {
    /// Whether the user set `key` or tried to (even with an invalid value or
    /// a misspelling).
    pub(crate) fn attempted(&self, key: Key) -> bool {
        self.attempted.contains(&key)
    }
}

/// `` `a`, `b` ``, or `None` for no keys.
fn quoted_list(keys: &[&str]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    Some(
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The error for `written`, a key `place` does not accept (`accepted`).
fn unknown_key_message(written: &str, place: Place, accepted: &[&str]) -> String {
    let here = place.describe();
    if let Some(key) = Key::named(written) {
        return format!(
            "`{written}` cannot be used on {here}: `{}` belongs {}",
            key.attribute(),
            key.home()
        );
    }
    let mut message = format!("unknown key `{written}` in `#[paas(...)]` on {here}");
    if let Some(suggestion) = did_you_mean(written, accepted) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    } else if let Some(list) = quoted_list(accepted) {
        message.push_str(&format!("; expected one of: {list}"));
    } else {
        message.push_str("; no keys are accepted here");
    }
    message
}

/// A key that takes no value, like `backend`.
fn flag(meta: &Meta, key: Key, cx: &mut Ctxt) -> Option<Span> {
    match meta {
        Meta::Path(path) => Some(path.span()),
        _ => {
            cx.spanned(
                meta,
                format!(
                    "`{}` takes no value: write `{}`",
                    key.name(),
                    key.attribute()
                ),
            );
            None
        }
    }
}

/// The value of `key = value`, or an error saying what was expected.
fn value<'m>(meta: &'m Meta, key: Key, cx: &mut Ctxt) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => {
            let name = key.name();
            cx.spanned(
                meta,
                format!(
                    "`{name}` needs a value: write `#[paas({name} = {})]`",
                    key.value().example()
                ),
            );
            None
        }
    }
}

/// `crate = path`, or `crate = "path"`.
fn crate_path(meta: &Meta, key: Key, cx: &mut Ctxt) -> Option<Path> {
    let expr = value(meta, key, cx)?;
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => match s.parse::<Path>() {
            Ok(path) => Some(path),
            Err(_) => {
                cx.spanned(s, "expected a path such as `::my_crate::paas_core`");
                None
            }
        },
        _ => {
            cx.spanned(
                expr,
                format!(
                    "expected the path paas-core is reachable at, such as `{} = ::my_crate::paas_core`",
                    key.name()
                ),
            );
            None
        }
    }
}

/// A backend name: a string literal without whitespace.
fn name(meta: &Meta, key: Key, cx: &mut Ctxt) -> Option<LitStr> {
    let expr = value(meta, key, cx)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = expr
    {
        let text = s.value();
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            cx.spanned(
                s,
                "a backend name must be non-empty and contain no whitespace",
            );
            return None;
        }
        Some(s.clone())
    } else {
        let name = key.name();
        cx.spanned(
            expr,
            format!("`{name}` takes a string literal, such as `#[paas({name} = \"sp1-gpu\")]`"),
        );
        None
    }
}

/// A non-negative integer literal (`workers`, `weight`, `budget`).
fn integer(meta: &Meta, key: Key, cx: &mut Ctxt) -> Option<Int> {
    let expr = value(meta, key, cx)?;
    let (key, example) = (key.name(), key.value().example());
    let kind = match expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Int(int) if int.base10_digits().starts_with('-') => {
                cx.spanned(int, format!("`{key}` cannot be negative"));
                return None;
            }
            Lit::Int(int) => {
                return match int.base10_parse::<u64>() {
                    Ok(value) => Some(Int {
                        value,
                        span: int.span(),
                    }),
                    Err(_) => {
                        cx.spanned(int, format!("`{key}` must fit in a `u64`"));
                        None
                    }
                };
            }
            Lit::Str(s) => {
                let hint = if s.value().trim().parse::<u64>().is_ok() {
                    format!(": write `{key} = {}` without quotes", s.value().trim())
                } else {
                    String::new()
                };
                format!("a string{hint}")
            }
            Lit::Float(_) => "a float".to_string(),
            Lit::Bool(_) => "a bool".to_string(),
            _ => "a literal of another kind".to_string(),
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            cx.spanned(expr, format!("`{key}` cannot be negative"));
            return None;
        }
        _ => "an expression: only integer literals are supported".to_string(),
    };
    cx.spanned(
        expr,
        format!("`{key}` takes an integer such as `{key} = {example}`, found {kind}"),
    );
    None
}
