//! `keel_data::parse_idx` on arbitrary bytes: it must return `Ok` or `Err`, never panic,
//! and an `Ok` array must hold exactly the product of its dimensions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(array) = keel_data::parse_idx(bytes) {
        let size = array.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        assert_eq!(size, Some(array.data.len()));
    }
});
