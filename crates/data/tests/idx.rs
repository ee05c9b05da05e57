//! IDX parsing on hand-made bytes and files: good input, every kind of bad
//! input, gzip and raw files, and a property test that nothing panics.

use keel_data::{parse_idx, read_idx, Error};

use std::io::Write as _;

/// An IDX file of unsigned bytes with the given dims and payload.
fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[test]
fn parses_a_good_file() {
    let bytes = idx_bytes(&[2, 2, 3], &(0..12).collect::<Vec<u8>>());
    let a = parse_idx(&bytes).unwrap();
    assert_eq!(a.dims, [2, 2, 3]);
    assert_eq!(a.data, (0..12).collect::<Vec<u8>>());
}

#[test]
fn any_image_size_is_accepted() {
    let a = parse_idx(&idx_bytes(&[1, 5, 7], &[3; 35])).unwrap();
    assert_eq!(a.dims, [1, 5, 7]);
}

#[test]
fn rejects_bad_magic() {
    let mut bytes = idx_bytes(&[1], &[0]);
    bytes[1] = 1;
    let err = parse_idx(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            Error::IdxMagic {
                found: [0, 1, 8, 1],
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn rejects_other_type_codes_by_name() {
    let mut bytes = idx_bytes(&[1], &[0]);
    bytes[2] = 0x0d; // float
    let err = parse_idx(&bytes).unwrap_err();
    assert!(matches!(err, Error::IdxType { code: 0x0d, .. }));
    assert!(err.to_string().contains("0x0d"), "{err}");
}

#[test]
fn rejects_short_headers() {
    for bytes in [&[][..], &[0, 0, 8], &[0, 0, 8, 2, 0, 0, 0, 1, 0, 0]] {
        let err = parse_idx(bytes).unwrap_err();
        assert!(matches!(err, Error::IdxHeader { .. }), "{err}");
    }
    let err = parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "truncated idx header: expected at least 12 bytes, found 8"
    );
}

#[test]
fn rejects_truncated_payload_with_counts() {
    let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4]);
    let err = parse_idx(&bytes).unwrap_err();
    assert!(matches!(
        err,
        Error::IdxTruncated {
            expected: 6,
            found: 4,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "truncated idx data: expected 6 payload bytes for dimensions [2, 3], found 4"
    );
}

#[test]
fn rejects_trailing_bytes() {
    let bytes = idx_bytes(&[2], &[1, 2, 3]);
    let err = parse_idx(&bytes).unwrap_err();
    assert!(matches!(
        err,
        Error::IdxTrailingBytes {
            expected: 2,
            found: 3,
            ..
        }
    ));
}

#[test]
fn zero_dims() {
    // No dimensions at all is not an array.
    let err = parse_idx(&[0, 0, 8, 0]).unwrap_err();
    assert!(matches!(err, Error::IdxDims { .. }), "{err}");
    // A dimension of size 0 is a valid, empty array.
    let a = parse_idx(&idx_bytes(&[0, 28, 28], &[])).unwrap();
    assert_eq!(a.dims, [0, 28, 28]);
    assert!(a.is_empty());
    // ... and a byte after it is trailing.
    assert!(parse_idx(&idx_bytes(&[3, 0], &[1])).is_err());
}

#[test]
fn rejects_dims_overflow() {
    let bytes = idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]);
    let err = parse_idx(&bytes).unwrap_err();
    assert!(matches!(err, Error::IdxOverflow { .. }), "{err}");
}

#[test]
fn reads_raw_and_gzip_files_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = idx_bytes(&[2, 2], &[9, 8, 7, 6]);
    // Raw content under a .gz name, gzip content under a plain name.
    let raw = dir.path().join("raw.gz");
    std::fs::write(&raw, &bytes).unwrap();
    let gz = dir.path().join("packed");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let expected = parse_idx(&bytes).unwrap();
    assert_eq!(read_idx(&raw).unwrap(), expected);
    assert_eq!(read_idx(&gz).unwrap(), expected);
}

#[test]
fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.idx");
    let err = read_idx(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("missing.idx"), "{err}");

    let short = dir.path().join("short.idx");
    std::fs::write(&short, idx_bytes(&[4], &[1])).unwrap();
    let err = read_idx(&short).unwrap_err();
    assert!(
        matches!(&err, Error::IdxTruncated { path: Some(p), .. } if p == &short),
        "{err}"
    );
    assert!(err.to_string().contains("short.idx"), "{err}");

    let bad_gz = dir.path().join("bad.gz");
    std::fs::write(&bad_gz, [0x1f, 0x8b, 1, 2, 3]).unwrap();
    let err = read_idx(&bad_gz).unwrap_err();
    assert!(matches!(err, Error::Gzip { .. }), "{err}");
}

proptest::proptest! {
    #[test]
    fn parse_idx_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = parse_idx(&bytes);
    }

    #[test]
    fn parse_idx_never_panics_past_the_magic(
        ndims in 0u8..6,
        rest in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
    ) {
        let mut bytes = vec![0, 0, 0x08, ndims];
        bytes.extend(rest);
        if let Ok(a) = parse_idx(&bytes) {
            proptest::prop_assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
        }
    }

    #[test]
    fn valid_files_round_trip(dims in proptest::collection::vec(0u32..5, 1..4)) {
        let n: u32 = dims.iter().product();
        let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let a = parse_idx(&idx_bytes(&dims, &payload)).unwrap();
        proptest::prop_assert_eq!(a.data, payload);
    }
}
