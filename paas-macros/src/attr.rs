//! Parsing of `#[paas(...)]` attributes.
//!
//! Both derives share the `paas` attribute. Each place an attribute can sit
//! (the type, an enum variant, a field) accepts its own keys; a key used in
//! the wrong place, an unknown key, a duplicate key or a value of the wrong
//! kind is an error spanned at the offending token.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Path, Token, UnOp};

use crate::ctxt::Ctxt;
use crate::names::did_you_mean;

/// Where a `#[paas(...)]` attribute sits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    TaskIdType,
    TaskIdVariant,
    TaskIdField,
    BackendType,
    BackendVariant,
    BackendField,
}

impl Place {
    /// The keys accepted here.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Place::TaskIdType => &["crate", "no_display"],
            Place::TaskIdField => &["backend"],
            Place::BackendType => &["crate"],
            Place::BackendVariant => &["name", "workers", "weight", "budget"],
            Place::TaskIdVariant | Place::BackendField => &[],
        }
    }

    /// How to name this place in a message.
    fn describe(self) -> &'static str {
        match self {
            Place::TaskIdType => "a `#[derive(TaskId)]` type",
            Place::TaskIdVariant => "a variant of a `#[derive(TaskId)]` enum",
            Place::TaskIdField => "a field of a `#[derive(TaskId)]` type",
            Place::BackendType => "a `#[derive(Backend)]` enum",
            Place::BackendVariant => "a variant of a `#[derive(Backend)]` enum",
            Place::BackendField => "a field of a `#[derive(Backend)]` variant",
        }
    }
}

/// Where a known key belongs, for keys used in the wrong place.
fn home_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "crate" => "on the type itself, next to `#[derive(TaskId)]` or `#[derive(Backend)]`",
        "no_display" => "on the type itself, next to `#[derive(TaskId)]`",
        "backend" => "on the field of a `#[derive(TaskId)]` type that holds the backend",
        "name" | "workers" | "weight" | "budget" => "on a variant of a `#[derive(Backend)]` enum",
        _ => return None,
    })
}

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
    given: Vec<String>,
    /// Keys given or suggested for a misspelled key: a key the user tried
    /// to set is not reported missing on top of its own error.
    attempted: Vec<String>,
}

impl Attrs {
    /// Parses every `#[paas(...)]` among `attrs` for `place`, recording cx.
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
        let Some(ident) = meta.path().get_ident() else {
            cx.spanned(
                meta.path(),
                format!(
                    "expected a key such as {}, found a path",
                    quoted_list(place.keys()).unwrap_or_else(|| "`workers`".into())
                ),
            );
            return;
        };
        let key = ident.to_string();
        if !place.keys().contains(&key.as_str()) {
            if let Some(suggestion) = did_you_mean(&key, place.keys()) {
                self.attempted.push(suggestion.to_string());
            }
            cx.spanned(ident, unknown_key_message(&key, place));
            return;
        }
        if self.given.contains(&key) {
            cx.spanned(
                ident,
                format!("duplicate key `{key}`: each key may be given once per item"),
            );
            return;
        }
        self.given.push(key.clone());
        self.attempted.push(key.clone());
        match key.as_str() {
            "crate" => self.krate = crate_path(meta, cx),
            "no_display" => self.no_display = flag(meta, &key, cx),
            "backend" => self.backend = flag(meta, &key, cx),
            "name" => self.name = name(meta, cx),
            "workers" => self.workers = integer(meta, &key, cx),
            "weight" => self.weight = integer(meta, &key, cx),
            "budget" => self.budget = integer(meta, &key, cx),
            _ => {}
        }
    }
}

impl Attrs {
    /// Whether the user set `key` or tried to (even with an invalid value or
    /// a misspelling).
    pub(crate) fn attempted(&self, key: &str) -> bool {
        self.attempted.iter().any(|k| k == key)
    }
}

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

fn unknown_key_message(key: &str, place: Place) -> String {
    let here = place.describe();
    if let Some(home) = home_of(key) {
        let example = match key {
            "crate" => "crate = path".to_string(),
            "name" => "name = \"...\"".to_string(),
            "workers" | "weight" | "budget" => format!("{key} = N"),
            _ => key.to_string(),
        };
        return format!("`{key}` cannot be used on {here}: `#[paas({example})]` belongs {home}");
    }
    let mut message = format!("unknown key `{key}` in `#[paas(...)]` on {here}");
    if let Some(suggestion) = did_you_mean(key, place.keys()) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    } else if let Some(list) = quoted_list(place.keys()) {
        message.push_str(&format!("; expected one of: {list}"));
    } else {
        message.push_str("; no keys are accepted here");
    }
    message
}

/// A key that takes no value, like `backend`.
fn flag(meta: &Meta, key: &str, cx: &mut Ctxt) -> Option<Span> {
    match meta {
        Meta::Path(path) => Some(path.span()),
        _ => {
            cx.spanned(
                meta,
                format!("`{key}` takes no value: write `#[paas({key})]`"),
            );
            None
        }
    }
}

/// The value of `key = value`, or an error saying what was expected.
fn value<'m>(meta: &'m Meta, key: &str, example: &str, cx: &mut Ctxt) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => {
            cx.spanned(
                meta,
                format!("`{key}` needs a value: write `#[paas({key} = {example})]`"),
            );
            None
        }
    }
}

fn crate_path(meta: &Meta, cx: &mut Ctxt) -> Option<Path> {
    let expr = value(meta, "crate", "path::to::paas_core", cx)?;
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
                "expected the path paas-core is reachable at, such as `crate = ::my_crate::paas_core`",
            );
            None
        }
    }
}

fn name(meta: &Meta, cx: &mut Ctxt) -> Option<LitStr> {
    let expr = value(meta, "name", "\"...\"", cx)?;
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
        cx.spanned(
            expr,
            "`name` takes a string literal, such as `#[paas(name = \"sp1-gpu\")]`",
        );
        None
    }
}

/// A non-negative integer literal (`workers`, `weight`, `budget`).
fn integer(meta: &Meta, key: &str, cx: &mut Ctxt) -> Option<Int> {
    let expr = value(meta, key, "4", cx)?;
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
        format!("`{key}` takes an integer such as `{key} = 4`, found {kind}"),
    );
    None
}
