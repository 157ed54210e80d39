//! Any two ids: each key decodes to its id, and keys compare byte by byte
//! as their ids compare field by field (the format's order promise, which
//! the stores' key indexes rely on).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paas_core::TaskId;
use paas_fuzz::Id;

fuzz_target!(|pair: (Id, Id)| {
    let (a, b) = pair;
    let (ka, kb) = (a.to_key(), b.to_key());
    assert_eq!(Id::from_key(&ka).as_ref(), Ok(&a));
    assert_eq!(Id::from_key(&kb).as_ref(), Ok(&b));
    assert_eq!(ka.cmp(&kb), a.cmp(&b), "keys of {a:?} and {b:?}");
});
