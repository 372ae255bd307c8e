//! Event photos (照片): JPEG or PNG only, told by their first bytes (not by what the sender
//! says), at most [`MAX_PHOTO_BYTES`] each and [`MAX_PHOTOS`] per report or action. Photos travel
//! in JSON as base64 and are kept in the store.
//!
//! ```
//! use wangge::events::photo::{check, decode_base64, PhotoKind};
//! let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0];
//! assert_eq!(check(0, Some("image/png"), &png).unwrap().kind, PhotoKind::Png);
//! assert!(check(0, Some("image/png"), b"GIF89a").is_err());
//! assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
//! ```

use super::{named, EventError, Photo};

/// Largest photo (bytes).
pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;
/// Most photos per report or action.
pub const MAX_PHOTOS: usize = 9;

named!(
    /// A photo's format.
    PhotoKind, "type", [
        /// JPEG.
        Jpeg = "image/jpeg" / "JPEG",
        /// PNG.
        Png = "image/png" / "PNG",
    ]
);

/// The format of `data` by its magic bytes.
pub fn sniff(data: &[u8]) -> Option<PhotoKind> {
    if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(PhotoKind::Jpeg)
    } else if data.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some(PhotoKind::Png)
    } else {
        None
    }
}

/// Checks photo `#i`: its bytes must be a JPEG or PNG (of the type declared, if any) no larger
/// than [`MAX_PHOTO_BYTES`].
pub fn check(i: usize, declared: Option<&str>, data: &[u8]) -> Result<Photo, EventError> {
    let bad = |why: String| EventError::Invalid {
        field: "photos",
        why: format!("photo #{i}: {why}"),
    };
    if data.len() > MAX_PHOTO_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {} allowed",
            data.len(),
            MAX_PHOTO_BYTES
        )));
    }
    let kind = sniff(data).ok_or_else(|| bad("not a JPEG or PNG image".into()))?;
    if let Some(d) = declared {
        let want: PhotoKind = d
            .parse()
            .map_err(|_| bad(format!("type `{d}` is not image/jpeg or image/png")))?;
        if want != kind {
            return Err(bad(format!("declared {want} but its bytes are {kind}")));
        }
    }
    Ok(Photo {
        kind,
        data: data.to_vec(),
    })
}

/// Decodes standard base64 (padding optional, whitespace ignored; a `data:…;base64,` prefix is
/// skipped).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, EventError> {
    let text = match text.find(";base64,") {
        Some(i) if text.starts_with("data:") => &text[i + 8..],
        _ => text,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (pos, c) in text.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => {
                return Err(EventError::Invalid {
                    field: "photos",
                    why: format!("data: byte {pos} (`{}`) is not base64", c as char),
                })
            }
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_big_or_not_an_image_is_refused_with_its_number() {
        let mut big = vec![0xff, 0xd8, 0xff];
        big.resize(MAX_PHOTO_BYTES + 1, 0);
        let e = check(2, None, &big).unwrap_err().to_string();
        assert!(e.contains("photo #2") && e.contains("more than"), "{e}");
        let e = check(0, Some("image/jpeg"), b"%PDF-1.7")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a JPEG or PNG"), "{e}");
        let e = check(0, Some("image/png"), &[0xff, 0xd8, 0xff, 0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("declared image/png"), "{e}");
        assert_eq!(
            check(0, None, &[0xff, 0xd8, 0xff, 0xe0]).unwrap().kind,
            PhotoKind::Jpeg
        );
    }

    #[test]
    fn base64_decodes_every_length() {
        for (t, want) in [
            ("", ""),
            ("YQ==", "a"),
            ("YWI=", "ab"),
            ("YWJj", "abc"),
            ("YWJjZA", "abcd"),
        ] {
            assert_eq!(decode_base64(t).unwrap(), want.as_bytes(), "{t}");
        }
        assert!(decode_base64("YW*j").is_err());
    }
}
