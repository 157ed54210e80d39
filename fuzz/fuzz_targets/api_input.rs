//! Any bytes as what the API reads from a client: a submit body (with
//! integer ids, as most provers' ids are) and a listing's query string.
//! Parsing never panics; a body that reads is a JSON object (never the
//! fields as an array); what parses survives a round trip (a body written
//! back reads the same; a listing's query turned back into its parameters
//! asks for the same page).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paas_api::wire::{ListParams, SubmitRequest};
use paas_fuzz::Lane;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<SubmitRequest<u64>>(bytes) {
        let value: serde_json::Value = serde_json::from_slice(bytes).expect("JSON");
        assert!(
            value.is_object(),
            "a submit body that reads is an object: {value}"
        );
        let written = serde_json::to_vec(&request).expect("a request writes");
        let again: SubmitRequest<u64> =
            serde_json::from_slice(&written).expect("what was written reads");
        assert_eq!(again, request);
    }
    if let Ok(params) = serde_urlencoded::from_bytes::<ListParams>(bytes)
        && let Ok(query) = params.query::<Lane>()
    {
        let back = ListParams::of_query(&query)
            .query::<Lane>()
            .expect("a query's own params are valid");
        assert_eq!(back, query);
    }
});
