//! A task's name in URLs: its stable byte key
//! ([`TaskId::to_key`]) in lowercase hex.
//!
//! # Examples
//!
//! ```
//! use paas_api::{key_hex, parse_key_hex};
//!
//! let hex = key_hex(&7u64);
//! assert_eq!(hex, "0000000000000007");
//! assert_eq!(parse_key_hex::<u64>(&hex)?, 7);
//! assert!(parse_key_hex::<u64>("0007").is_err()); // too short for a u64
//! assert!(parse_key_hex::<u64>("000000000000000A").is_err()); // not lowercase
//! # Ok::<(), paas_api::KeyHexError>(())
//! ```

use paas_core::TaskId;
use paas_core::key::KeyError;

/// Why a hex key names no task id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyHexError {
    /// The text is not lowercase hex of whole bytes.
    #[error("a task key is lowercase hex of whole bytes (0-9, a-f, even length)")]
    NotHex,
    /// The bytes are not the key of an id of this type.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The key of `id` in lowercase hex.
pub fn key_hex<I: TaskId>(id: &I) -> String {
    hex::encode(id.to_key())
}

/// The id whose key is `hex`.
///
/// # Errors
///
/// [`KeyHexError::NotHex`] unless `hex` is lowercase hex of whole bytes;
/// [`KeyHexError::Key`] when the bytes are not one key of `I`.
pub fn parse_key_hex<I: TaskId>(hex: &str) -> Result<I, KeyHexError> {
    let lowercase = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lowercase {
        return Err(KeyHexError::NotHex);
    }
    let bytes = hex::decode(hex).map_err(|_| KeyHexError::NotHex)?;
    Ok(I::from_key(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_a_key() {
        let id = "block 7".to_string();
        assert_eq!(parse_key_hex::<String>(&key_hex(&id)), Ok(id));
        assert_eq!(parse_key_hex::<u64>("abc"), Err(KeyHexError::NotHex));
        assert_eq!(parse_key_hex::<u64>("zz"), Err(KeyHexError::NotHex));
        assert!(matches!(
            parse_key_hex::<u64>("000000000000000700"),
            Err(KeyHexError::Key(KeyError::TrailingBytes { .. }))
        ));
        assert!(parse_key_hex::<u64>("").is_err());
    }
}
