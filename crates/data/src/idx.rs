//! Reading IDX files, the format MNIST ships in, gzipped or raw.
//!
//! An IDX file is a 4-byte magic `00 00 <type> <ndims>`, then `ndims`
//! big-endian `u32` dimension sizes, then the elements in row-major order.
//! Only the unsigned-byte type (`0x08`) is supported. The payload must be
//! exactly the product of the dimensions: a short or over-long file is an
//! error, never a silently wrong array.

use std::io::Read as _;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// The IDX type code of unsigned bytes.
const TYPE_U8: u8 = 0x08;
/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An IDX array of unsigned bytes: its dimensions and its row-major data.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let array = keel_data::parse_idx(&[0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9])?;
/// assert_eq!(array.dims, [2]);
/// assert_eq!(array.data, [7, 9]);
/// assert_eq!(array.len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The number of elements (the product of `dims`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let array = keel_data::parse_idx(&[0, 0, 0x08, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3])?;
    /// assert_eq!(array.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the array holds no elements (some dimension is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let array = keel_data::parse_idx(&[0, 0, 0x08, 1, 0, 0, 0, 0])?;
    /// assert!(array.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Reads an IDX file of unsigned bytes, gzipped or raw.
///
/// Gzip is recognised by its magic bytes `1f 8b`, not by the file name.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, [`Error::Gzip`] if it looks like
/// gzip but does not decompress, and the errors of [`parse_idx`] (with the
/// path filled in) if the content is not a valid unsigned-byte IDX array.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// # let dir = std::env::temp_dir().join(format!("keel-data-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("labels.idx");
/// std::fs::write(&path, [0, 0, 0x08, 1, 0, 0, 0, 3, 5, 0, 4]).unwrap();
/// let labels = keel_data::read_idx(&path)?;
/// assert_eq!(labels.dims, [3]);
/// assert_eq!(labels.data, [5, 0, 4]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(())
/// # }
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    parse_idx_vec(bytes, None).map_err(|e| e.with_path(path))
}

/// The file's bytes, decompressed if gzipped.
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| Error::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        out
    } else {
        raw
    };
    Ok(bytes)
}

/// [`read_idx`] of a file that must have `rank` dimensions (`expected` in words): a header
/// with another count is [`Error::IdxDims`], before its dimensions are misread as payload.
pub(crate) fn read_idx_of_rank(
    path: &Path,
    rank: usize,
    expected: &'static str,
) -> Result<IdxArray> {
    let bytes = read_bytes(path)?;
    parse_idx_vec(bytes, Some((rank, expected))).map_err(|e| e.with_path(path))
}

/// Parses the bytes of an (uncompressed) IDX array of unsigned bytes.
///
/// Never panics, whatever the bytes.
///
/// # Errors
///
/// - [`Error::IdxHeader`] if the bytes end inside the header;
/// - [`Error::IdxMagic`] if the first two bytes are not zero;
/// - [`Error::IdxType`] if the element type is not `0x08`;
/// - [`Error::IdxDims`] if there are no dimensions;
/// - [`Error::IdxOverflow`] if the product of the dimensions overflows `usize`;
/// - [`Error::IdxTruncated`] / [`Error::IdxTrailingBytes`] if the payload is
///   shorter / longer than the product of the dimensions.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// // Two 1x3 "images".
/// let bytes = [0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
/// let images = keel_data::parse_idx(&bytes)?;
/// assert_eq!(images.dims, [2, 1, 3]);
/// assert_eq!(images.data, [1, 2, 3, 4, 5, 6]);
///
/// let err = keel_data::parse_idx(&bytes[..20]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "truncated idx data: expected 6 payload bytes for dimensions [2, 1, 3], found 4"
/// );
/// # Ok(())
/// # }
/// ```
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray> {
    let (dims, header_len) = parse_header(bytes)?;
    Ok(IdxArray {
        dims,
        data: bytes[header_len..].to_vec(),
    })
}

/// [`parse_idx`] on owned bytes, reusing their allocation for the data.
fn parse_idx_vec(mut bytes: Vec<u8>, rank: Option<(usize, &'static str)>) -> Result<IdxArray> {
    if let Some((rank, expected)) = rank {
        check_rank(&bytes, rank, expected)?;
    }
    let (dims, header_len) = parse_header(&bytes)?;
    bytes.drain(..header_len);
    Ok(IdxArray { dims, data: bytes })
}

/// [`Error::IdxDims`] when a well-started header declares other than `rank` dimensions,
/// listing the dimensions it declares (as far as the bytes hold them).
fn check_rank(bytes: &[u8], rank: usize, expected: &'static str) -> Result<()> {
    match bytes.first_chunk::<4>() {
        Some(&[0, 0, TYPE_U8, ndims]) if usize::from(ndims) != rank => {
            let declared = bytes[4..].chunks_exact(4).take(usize::from(ndims));
            let found = declared
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
                .collect();
            Err(Error::IdxDims {
                path: None,
                expected,
                found,
            })
        }
        // Anything else is for parse_header to judge.
        _ => Ok(()),
    }
}

/// Validates the header and payload length; returns the dims and header length.
fn parse_header(bytes: &[u8]) -> Result<(Vec<usize>, usize)> {
    let Some(&[zero0, zero1, code, ndims]) = bytes.first_chunk::<4>() else {
        return Err(Error::IdxHeader {
            path: None,
            expected: 4,
            found: bytes.len(),
        });
    };
    if zero0 != 0 || zero1 != 0 {
        return Err(Error::IdxMagic {
            path: None,
            found: [zero0, zero1, code, ndims],
        });
    }
    if code != TYPE_U8 {
        return Err(Error::IdxType { path: None, code });
    }
    if ndims == 0 {
        return Err(Error::IdxDims {
            path: None,
            expected: "at least 1 dimension",
            found: Vec::new(),
        });
    }
    let header_len = 4 + 4 * usize::from(ndims);
    let Some(dim_bytes) = bytes.get(4..header_len) else {
        return Err(Error::IdxHeader {
            path: None,
            expected: header_len,
            found: bytes.len(),
        });
    };
    let raw_dims: Vec<u32> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let overflow = || Error::IdxOverflow {
        path: None,
        dims: raw_dims.iter().map(|&d| u64::from(d)).collect(),
    };
    let dims = raw_dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| overflow())?;
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    let found = bytes.len() - header_len;
    if found < expected {
        return Err(Error::IdxTruncated {
            path: None,
            dims,
            expected,
            found,
        });
    }
    if found > expected {
        return Err(Error::IdxTrailingBytes {
            path: None,
            dims,
            expected,
            found,
        });
    }
    Ok((dims, header_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_parse_matches_borrowed_parse() {
        let bytes = vec![0, 0, TYPE_U8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 4, 2];
        let a = parse_idx(&bytes).unwrap();
        assert_eq!(a.dims, [2, 1]);
        assert_eq!(parse_idx_vec(bytes, None).unwrap(), a);
    }
}
