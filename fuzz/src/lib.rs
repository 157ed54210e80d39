//! Task ids and a backend for the fuzz targets: one of every kind of field
//! the `TaskId` key format has, nested the ways a derive allows.

use arbitrary::Arbitrary;
use paas_core::{Backend, TaskId};

/// A struct id with a field of every key kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Arbitrary, TaskId)]
pub struct Id {
    /// Big-endian.
    pub height: u64,
    /// Sign bit flipped.
    pub shard: i16,
    /// Escaped, terminated.
    pub label: String,
    /// A tag, then the value.
    pub salt: Option<[u8; 3]>,
    /// Element markers and an end.
    pub parts: Vec<u16>,
    /// A list of strings: escapes inside element markers.
    pub names: Vec<String>,
    /// One byte.
    pub flag: bool,
    /// A scalar value.
    pub mark: char,
    /// A derived enum: its variant's position, then its fields.
    pub kind: Kind,
    /// Bytes with escapes.
    pub blob: Vec<u8>,
}

/// An enum id part: unit, tuple and struct variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Arbitrary, TaskId)]
pub enum Kind {
    /// No fields.
    Genesis,
    /// A tuple variant.
    Block(u32, Option<i64>),
    /// A struct variant.
    Range {
        /// First.
        from: u64,
        /// Last.
        to: i128,
        /// A nested option of a string.
        note: Option<String>,
    },
}

/// Two backends, for the listing query's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub enum Lane {
    /// The first.
    #[paas(workers = 1)]
    Cpu,
    /// The second.
    #[paas(workers = 1)]
    Gpu,
}
