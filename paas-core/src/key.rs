//! The stable byte key of a task id.
//!
//! Every [`TaskId`](crate::TaskId) has a byte key: the same id gives the same
//! bytes on every run, platform and compiler version, so a key can be stored in
//! a database file and compared across processes. Keys are built from
//! [`KeyPart`]s, one per field, concatenated in field order.
//!
//! # Format
//!
//! The encoding is order-preserving: comparing two keys byte by byte gives the
//! same order as comparing their fields one after the other.
//!
//! | type | encoding |
//! |---|---|
//! | `u8`..`u128`, `usize` | big-endian, fixed width (`usize` as 8 bytes) |
//! | `i8`..`i128`, `isize` | sign bit flipped, then big-endian (`isize` as 8 bytes) |
//! | `bool` | one byte, `0` or `1` |
//! | `char` | its scalar value as a big-endian `u32` |
//! | `()`, `PhantomData<T>` | nothing |
//! | `[u8; N]` | the `N` bytes as they are |
//! | `String`, `Vec<u8>`, `Box<str>` | the bytes with `0x00` written as `0x00 0xFF`, then the terminator `0x00 0x00` |
//! | `Option<T>` | `0x00` for `None`; `0x01` then `T` for `Some` |
//! | `Vec<T>` (other `T`) | `0x01` then `T` for each element, then `0x00` |
//! | tuples, structs | the fields in order |
//! | enums (derived) | the variant's position as a big-endian `u32`, then its fields |
//!
//! Decoding never panics: malformed, truncated or over-long input is a
//! [`KeyError`].
//!
//! # Examples
//!
//! ```
//! use paas_core::key::{KeyPart, KeyReader};
//!
//! let mut key = Vec::new();
//! 7u32.encode_key(&mut key);
//! "block".to_string().encode_key(&mut key);
//! assert_eq!(key, [0, 0, 0, 7, b'b', b'l', b'o', b'c', b'k', 0, 0]);
//!
//! let mut reader = KeyReader::new(&key);
//! assert_eq!(u32::decode_key(&mut reader)?, 7);
//! assert_eq!(String::decode_key(&mut reader)?, "block");
//! reader.finish()?;
//! # Ok::<(), paas_core::key::KeyError>(())
//! ```

use std::fmt;

/// Why a byte key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key ended before a value was complete.
    #[error("task key truncated: needed {needed} more byte(s) at offset {offset}")]
    UnexpectedEnd {
        /// Where the missing bytes should have started.
        offset: usize,
        /// How many bytes were missing at least.
        needed: usize,
    },
    /// Bytes were left over after the whole id was decoded.
    #[error("task key has {remaining} trailing byte(s) at offset {offset}")]
    TrailingBytes {
        /// Where the unexpected bytes start.
        offset: usize,
        /// How many bytes are left.
        remaining: usize,
    },
    /// A tag byte (bool, option, list marker, escape) had a value the format does not allow.
    #[error("task key has invalid {what} byte {byte:#04x} at offset {offset}")]
    InvalidTag {
        /// What kind of tag was expected.
        what: &'static str,
        /// The byte found.
        byte: u8,
        /// Where it was found.
        offset: usize,
    },
    /// A string field was not valid UTF-8.
    #[error("task key has a string that is not valid UTF-8 at offset {offset}")]
    InvalidUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// A `char` field held a value that is not a Unicode scalar value.
    #[error("task key has invalid char value {value:#x} at offset {offset}")]
    InvalidChar {
        /// The value found.
        value: u32,
        /// Where it was found.
        offset: usize,
    },
    /// An enum tag named no variant of the type.
    #[error("task key names variant #{index} of `{type_name}`, which has no such variant")]
    UnknownVariant {
        /// The enum being decoded.
        type_name: &'static str,
        /// The variant position found in the key.
        index: u32,
    },
    /// A value decoded but does not fit the target type (for example a `usize` on a 32-bit target).
    #[error("task key value out of range for `{type_name}` at offset {offset}")]
    OutOfRange {
        /// The type being decoded.
        type_name: &'static str,
        /// Where the value starts.
        offset: usize,
    },
}

/// A cursor over a byte key being decoded.
///
/// # Examples
///
/// ```
/// use paas_core::key::{KeyError, KeyPart, KeyReader};
///
/// let mut reader = KeyReader::new(&[0, 1]);
/// assert!(matches!(u32::decode_key(&mut reader), Err(KeyError::UnexpectedEnd { .. })));
/// ```
#[derive(Clone)]
pub struct KeyReader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl fmt::Debug for KeyReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyReader")
            .field("offset", &self.offset)
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl<'a> KeyReader<'a> {
    /// Starts reading `bytes` from the beginning.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    /// The position of the next byte to read.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    /// Reads exactly `n` bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnexpectedEnd`] if fewer than `n` bytes are left.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], KeyError> {
        if self.remaining() < n {
            return Err(KeyError::UnexpectedEnd {
                offset: self.offset,
                needed: n - self.remaining(),
            });
        }
        let out = &self.bytes[self.offset..self.offset + n];
        self.offset += n;
        Ok(out)
    }

    /// Reads exactly `N` bytes into an array.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnexpectedEnd`] if fewer than `N` bytes are left.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], KeyError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnexpectedEnd`] at the end of the key.
    pub fn byte(&mut self) -> Result<u8, KeyError> {
        Ok(self.take(1)?[0])
    }

    /// Reads an enum variant tag (big-endian `u32`), as written by [`write_variant`].
    ///
    /// # Errors
    ///
    /// [`KeyError::UnexpectedEnd`] if fewer than four bytes are left.
    pub fn variant(&mut self) -> Result<u32, KeyError> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }

    /// Checks that every byte was consumed.
    ///
    /// # Errors
    ///
    /// [`KeyError::TrailingBytes`] if bytes are left.
    pub fn finish(self) -> Result<(), KeyError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(KeyError::TrailingBytes {
                offset: self.offset,
                remaining: self.remaining(),
            })
        }
    }

    /// Reads an escaped, terminated byte string (see the module docs).
    fn escaped(&mut self) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::new();
        loop {
            let b = self.byte()?;
            if b != 0 {
                out.push(b);
                continue;
            }
            let at = self.offset;
            match self.byte()? {
                0x00 => return Ok(out),
                0xFF => out.push(0),
                byte => {
                    return Err(KeyError::InvalidTag {
                        what: "string escape",
                        byte,
                        offset: at,
                    });
                }
            }
        }
    }
}

/// Writes an enum variant tag: the variant's position as a big-endian `u32`.
pub fn write_variant(index: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&index.to_be_bytes());
}

fn write_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        if b == 0 {
            out.extend_from_slice(&[0, 0xFF]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// A value that can be one part of a task's byte key.
///
/// Implemented for integers, `bool`, `char`, strings, byte arrays, `Option`,
/// `Vec` and tuples; `#[derive(TaskId)]` implements it for your types, so a
/// task id can hold another task id. The format is in the [module docs](self).
///
/// A field type without this trait cannot be part of a task id: floats, for
/// example, have no stable equality.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a task key",
    label = "`{Self}` does not implement `KeyPart`",
    note = "task ids are stored and compared as bytes: use integers, bool, char, strings, byte arrays, Option, Vec, tuples or another `#[derive(TaskId)]` type"
)]
pub trait KeyPart: Sized {
    /// Appends this value's bytes to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);

    /// Reads one value back.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] when the bytes are not a valid encoding. Never panics.
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError>;
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
                Ok(<$t>::from_be_bytes(input.take_array()?))
            }
        }
    )*};
}
unsigned_key!(u8, u16, u32, u64, u128);

macro_rules! signed_key {
    ($($t:ty => $u:ty),*) => {$(
        impl KeyPart for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                // Flip the sign bit so negative numbers sort before positive ones.
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
            fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
                let raw = <$u>::from_be_bytes(input.take_array()?);
                Ok((raw ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}
signed_key!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

impl KeyPart for usize {
    fn encode_key(&self, out: &mut Vec<u8>) {
        (*self as u64).encode_key(out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let offset = input.offset();
        usize::try_from(u64::decode_key(input)?).map_err(|_| KeyError::OutOfRange {
            type_name: "usize",
            offset,
        })
    }
}

impl KeyPart for isize {
    fn encode_key(&self, out: &mut Vec<u8>) {
        (*self as i64).encode_key(out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let offset = input.offset();
        isize::try_from(i64::decode_key(input)?).map_err(|_| KeyError::OutOfRange {
            type_name: "isize",
            offset,
        })
    }
}

impl KeyPart for bool {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let offset = input.offset();
        match input.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(KeyError::InvalidTag {
                what: "bool",
                byte,
                offset,
            }),
        }
    }
}

impl KeyPart for char {
    fn encode_key(&self, out: &mut Vec<u8>) {
        (*self as u32).encode_key(out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let offset = input.offset();
        let value = u32::decode_key(input)?;
        char::from_u32(value).ok_or(KeyError::InvalidChar { value, offset })
    }
}

impl KeyPart for () {
    fn encode_key(&self, _out: &mut Vec<u8>) {}
    fn decode_key(_input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        Ok(())
    }
}

impl<const N: usize> KeyPart for [u8; N] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        input.take_array()
    }
}

impl KeyPart for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        write_escaped(self.as_bytes(), out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let offset = input.offset();
        String::from_utf8(input.escaped()?).map_err(|_| KeyError::InvalidUtf8 { offset })
    }
}

impl KeyPart for Box<str> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        write_escaped(self.as_bytes(), out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        String::decode_key(input).map(String::into_boxed_str)
    }
}

impl KeyPart for std::sync::Arc<str> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        write_escaped(self.as_bytes(), out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        String::decode_key(input).map(Into::into)
    }
}

/// Nothing: a marker for a type parameter that has no data in the key.
impl<T: ?Sized> KeyPart for std::marker::PhantomData<T> {
    fn encode_key(&self, _out: &mut Vec<u8>) {}
    fn decode_key(_input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        Ok(std::marker::PhantomData)
    }
}

impl<T: KeyPart> KeyPart for Box<T> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        (**self).encode_key(out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        T::decode_key(input).map(Box::new)
    }
}

impl<T: KeyPart> KeyPart for Option<T> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode_key(out);
            }
        }
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let offset = input.offset();
        match input.byte()? {
            0 => Ok(None),
            1 => T::decode_key(input).map(Some),
            byte => Err(KeyError::InvalidTag {
                what: "option",
                byte,
                offset,
            }),
        }
    }
}

/// Element types of a `Vec` inside a key.
///
/// `Vec<u8>` is written as an escaped byte string, every other `Vec<T>` as a
/// marked list; this trait picks the form per element type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an element of a list in a task key",
    label = "`{Self}` does not implement `KeyListElement`",
    note = "list elements must be key parts: integers, bool, char, strings, byte arrays, Option, Vec, tuples or a `#[derive(TaskId)]` or `#[derive(Backend)]` type"
)]
pub trait KeyListElement: KeyPart {
    /// Appends a whole list of this element type.
    fn encode_list(items: &[Self], out: &mut Vec<u8>) {
        for item in items {
            out.push(1);
            item.encode_key(out);
        }
        out.push(0);
    }

    /// Reads a whole list of this element type.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] when the bytes are not a valid list.
    fn decode_list(input: &mut KeyReader<'_>) -> Result<Vec<Self>, KeyError> {
        let mut out = Vec::new();
        loop {
            let offset = input.offset();
            match input.byte()? {
                0 => return Ok(out),
                1 => out.push(Self::decode_key(input)?),
                byte => {
                    return Err(KeyError::InvalidTag {
                        what: "list marker",
                        byte,
                        offset,
                    });
                }
            }
        }
    }
}

impl KeyListElement for u8 {
    fn encode_list(items: &[Self], out: &mut Vec<u8>) {
        write_escaped(items, out);
    }
    fn decode_list(input: &mut KeyReader<'_>) -> Result<Vec<Self>, KeyError> {
        input.escaped()
    }
}

macro_rules! list_element {
    ($($t:ty),*) => {$( impl KeyListElement for $t {} )*};
}
list_element!(
    u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, char, String
);
impl<T: KeyPart> KeyListElement for Option<T> {}
impl<T: KeyListElement> KeyListElement for Vec<T> {}
impl<const N: usize> KeyListElement for [u8; N] {}

impl<T: KeyListElement> KeyPart for Vec<T> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        T::encode_list(self, out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        T::decode_list(input)
    }
}

macro_rules! tuple_key {
    ($($name:ident)+) => {
        impl<$($name: KeyPart),+> KeyPart for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode_key(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $( $name.encode_key(out); )+
            }
            fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
                Ok(($($name::decode_key(input)?,)+))
            }
        }
        impl<$($name: KeyPart),+> KeyListElement for ($($name,)+) {}
    };
}
tuple_key!(A);
tuple_key!(A B);
tuple_key!(A B C);
tuple_key!(A B C D);
tuple_key!(A B C D E);
tuple_key!(A B C D E F);

/// Encodes a whole value into a fresh key.
pub fn encode<T: KeyPart>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode_key(&mut out);
    out
}

/// Decodes a whole key, rejecting trailing bytes.
///
/// # Errors
///
/// A [`KeyError`] when the bytes are not exactly one valid `T`.
pub fn decode<T: KeyPart>(bytes: &[u8]) -> Result<T, KeyError> {
    let mut reader = KeyReader::new(bytes);
    let value = T::decode_key(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip<T: KeyPart + PartialEq + std::fmt::Debug>(v: T) {
        let bytes = encode(&v);
        assert_eq!(decode::<T>(&bytes).expect("decodes"), v);
    }

    #[test]
    fn documented_layouts() {
        assert_eq!(encode(&0x0102u16), [1, 2]);
        assert_eq!(encode(&-1i8), [0x7F]);
        assert_eq!(encode(&0i8), [0x80]);
        assert_eq!(encode(&true), [1]);
        assert_eq!(encode(&"a\0b".to_string()), [b'a', 0, 0xFF, b'b', 0, 0]);
        assert_eq!(encode(&Some(3u8)), [1, 3]);
        assert_eq!(encode(&None::<u8>), [0]);
        assert_eq!(encode(&vec![1u16, 2]), [1, 0, 1, 1, 0, 2, 0]);
        assert_eq!(encode(&vec![7u8]), [7, 0, 0]);
        assert_eq!(encode(&5usize), 5u64.to_be_bytes());
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert!(matches!(
            decode::<bool>(&[2]),
            Err(KeyError::InvalidTag { what: "bool", .. })
        ));
        assert!(matches!(
            decode::<u32>(&[1, 2, 3]),
            Err(KeyError::UnexpectedEnd { needed: 1, .. })
        ));
        assert!(matches!(
            decode::<u8>(&[1, 2]),
            Err(KeyError::TrailingBytes { remaining: 1, .. })
        ));
        assert!(matches!(
            decode::<String>(&[0xFF, 0, 0]),
            Err(KeyError::InvalidUtf8 { .. })
        ));
        assert!(matches!(
            decode::<String>(&[b'a', 0, 7]),
            Err(KeyError::InvalidTag { .. })
        ));
        assert!(matches!(
            decode::<char>(&0xD800u32.to_be_bytes()),
            Err(KeyError::InvalidChar { .. })
        ));
        assert!(matches!(
            decode::<Option<u8>>(&[9]),
            Err(KeyError::InvalidTag { .. })
        ));
    }

    proptest! {
        #[test]
        fn values_round_trip(
            a in any::<u64>(), b in any::<i32>(), s in ".*", bytes in proptest::collection::vec(any::<u8>(), 0..40),
            o in proptest::option::of(any::<i128>()), list in proptest::collection::vec(any::<String>(), 0..5),
            c in any::<char>(), flag in any::<bool>(),
        ) {
            roundtrip((a, b, s.clone(), bytes.clone()));
            roundtrip((o, list, c, flag));
            roundtrip([a as u8; 4]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::<(u32, String, Option<Vec<i16>>, Vec<u8>)>(&bytes);
            let _ = decode::<(bool, char, Vec<String>)>(&bytes);
        }

        #[test]
        fn order_is_preserved(a in any::<(i64, String, u8)>(), b in any::<(i64, String, u8)>()) {
            prop_assert_eq!(a.cmp(&b), encode(&a).cmp(&encode(&b)));
        }
    }
}
