//! Every `#[paas(...)]` key, listed once: how it is spelled, what value it
//! takes and where it is allowed. The parser (`attr`) looks keys up here,
//! both to dispatch and to word its "unknown key" and "wrong place" errors,
//! and the checks (`valid`) name keys in their messages through it.

/// Where a `#[paas(...)]` attribute sits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Place {
    TaskIdType,
    TaskIdVariant,
    TaskIdField,
    BackendType,
    BackendVariant,
    BackendField,
}

impl Place {
    /// The keys accepted here, in table order.
    pub(crate) fn keys(self) -> impl Iterator<Item = Key> {
        Key::ALL
            .into_iter()
            .filter(move |key| key.row().places.contains(&self))
    }

    /// How to name this place in a message.
    pub(crate) fn describe(self) -> &'static str {
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

/// A `#[paas(...)]` key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Key {
    /// `crate = path`: where paas-core lives.
    Crate,
    /// `no_display`: do not generate `Display`.
    NoDisplay,
    /// `backend`: this field holds the task's backend.
    Backend,
    /// `name = "..."`: the backend's stable name.
    Name,
    /// `workers = N`: the pool's worker count.
    Workers,
    /// `weight = W`: the default weight of one task.
    Weight,
    /// `budget = B`: the pool's weight budget.
    Budget,
}

/// The kind of value a key takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Value {
    /// No value: `#[paas(backend)]`.
    Flag,
    /// A path: `#[paas(crate = path)]`.
    Path,
    /// A string literal: `#[paas(name = "...")]`.
    Str,
    /// An integer literal: `#[paas(workers = N)]`.
    Int,
}

impl Value {
    /// The value as a placeholder, in "belongs ..." messages.
    fn placeholder(self) -> &'static str {
        match self {
            Value::Flag => "",
            Value::Path => "path",
            Value::Str => "\"...\"",
            Value::Int => "N",
        }
    }

    /// A concrete value, in "needs a value" and "takes an integer" messages.
    pub(crate) fn example(self) -> &'static str {
        match self {
            Value::Flag => "",
            Value::Path => "path::to::paas_core",
            Value::Str => "\"...\"",
            Value::Int => "4",
        }
    }
}

/// One row of the key table.
struct Row {
    /// How the key is spelled.
    name: &'static str,
    value: Value,
    /// Where it is accepted.
    places: &'static [Place],
    /// Where it belongs, for a message about a key used elsewhere; `None`
    /// says "on" the one place it is accepted.
    home: Option<&'static str>,
}

impl Key {
    /// Every key, in the order messages list them.
    pub(crate) const ALL: [Key; 7] = [
        Key::Crate,
        Key::NoDisplay,
        Key::Backend,
        Key::Name,
        Key::Workers,
        Key::Weight,
        Key::Budget,
    ];

    /// The table: everything known about each key.
    fn row(self) -> Row {
        use Place::{BackendType, BackendVariant, TaskIdField, TaskIdType};
        let backend_variant = |name, value| Row {
            name,
            value,
            places: &[BackendVariant],
            home: None,
        };
        match self {
            Key::Crate => Row {
                name: "crate",
                value: Value::Path,
                places: &[TaskIdType, BackendType],
                home: Some(
                    "on the type itself, next to `#[derive(TaskId)]` or `#[derive(Backend)]`",
                ),
            },
            Key::NoDisplay => Row {
                name: "no_display",
                value: Value::Flag,
                places: &[TaskIdType],
                home: Some("on the type itself, next to `#[derive(TaskId)]`"),
            },
            Key::Backend => Row {
                name: "backend",
                value: Value::Flag,
                places: &[TaskIdField],
                home: Some("on the field of a `#[derive(TaskId)]` type that holds the backend"),
            },
            Key::Name => backend_variant("name", Value::Str),
            Key::Workers => backend_variant("workers", Value::Int),
            Key::Weight => backend_variant("weight", Value::Int),
            Key::Budget => backend_variant("budget", Value::Int),
        }
    }

    /// The key spelled as `name`, if there is one.
    pub(crate) fn named(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// How the key is spelled.
    pub(crate) fn name(self) -> &'static str {
        self.row().name
    }

    /// The kind of value it takes.
    pub(crate) fn value(self) -> Value {
        self.row().value
    }

    /// Whether it may be used at `place`.
    pub(crate) fn allowed_on(self, place: Place) -> bool {
        self.row().places.contains(&place)
    }

    /// The key with a placeholder value, as written inside `#[paas(...)]`:
    /// `workers = N`, `backend`.
    pub(crate) fn usage(self) -> String {
        match self.value() {
            Value::Flag => self.name().to_string(),
            value => format!("{} = {}", self.name(), value.placeholder()),
        }
    }

    /// The whole attribute with a placeholder value: `#[paas(workers = N)]`.
    pub(crate) fn attribute(self) -> String {
        format!("#[paas({})]", self.usage())
    }

    /// Where it belongs: "on a variant of a `#[derive(Backend)]` enum".
    pub(crate) fn home(self) -> String {
        let row = self.row();
        match (row.home, row.places) {
            (Some(home), _) => home.to_string(),
            (None, [place, ..]) => format!("on {}", place.describe()),
            (None, []) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_found_by_its_name_and_names_are_unique() {
        for key in Key::ALL {
            assert_eq!(Key::named(key.name()), Some(key));
            assert!(!key.row().places.is_empty(), "{key:?} is allowed nowhere");
        }
        assert_eq!(Key::named("threads"), None);
    }

    #[test]
    fn keys_per_place() {
        let names = |place: Place| place.keys().map(Key::name).collect::<Vec<_>>();
        assert_eq!(names(Place::TaskIdType), ["crate", "no_display"]);
        assert_eq!(names(Place::TaskIdField), ["backend"]);
        assert_eq!(names(Place::BackendType), ["crate"]);
        assert_eq!(
            names(Place::BackendVariant),
            ["name", "workers", "weight", "budget"]
        );
        assert!(names(Place::TaskIdVariant).is_empty());
        assert!(names(Place::BackendField).is_empty());
    }

    #[test]
    fn usages_and_homes() {
        assert_eq!(Key::Workers.attribute(), "#[paas(workers = N)]");
        assert_eq!(Key::Backend.attribute(), "#[paas(backend)]");
        assert_eq!(Key::Name.usage(), "name = \"...\"");
        assert_eq!(Key::Crate.usage(), "crate = path");
        assert_eq!(
            Key::Budget.home(),
            "on a variant of a `#[derive(Backend)]` enum"
        );
    }
}
