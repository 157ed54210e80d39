//! What the SIGKILL test's parent and child agree on: how long each proof
//! takes and what its bytes are.

/// Milliseconds the proof of `id` takes: 5 to 40, spread by a hash of the id.
pub(crate) fn proof_millis(id: u64) -> u64 {
    5 + mix(id) % 36
}

/// The proof bytes of `id`: the id, then 24 bytes derived from it.
pub(crate) fn expected_proof(id: u64) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    let mut x = id;
    for _ in 0..3 {
        x = mix(x);
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// SplitMix64's finalizer: a cheap, well-spread hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
