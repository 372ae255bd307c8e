//! TLS certificate files: when one expires (`wangge doctor`). A small DER walk over the
//! certificate's `validity` (RFC 5280 §4.1), so no X.509 library is needed for one date.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::path::Path;

/// The `notAfter` date of the first certificate in a PEM file.
pub fn not_after(path: &Path) -> Result<DateTime<Utc>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der =
        first_pem_cert(&text).ok_or_else(|| format!("{}: no PEM certificate", path.display()))?;
    validity_end(&der)
        .ok_or_else(|| format!("{}: cannot read the certificate's validity", path.display()))
}

fn first_pem_cert(text: &str) -> Option<Vec<u8>> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin)? + begin.len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = text[start..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// One DER element at `at`: (tag, content start, content end).
fn element(d: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *d.get(at)?;
    let first = *d.get(at + 1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *d.get(at + 2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let start = at + head;
    (start + len <= d.len()).then_some((tag, start, start + len))
}

/// Certificate → tbsCertificate → [version] serial, signature, issuer, validity → notAfter.
fn validity_end(d: &[u8]) -> Option<DateTime<Utc>> {
    let (_, cert, _) = element(d, 0)?;
    let (_, mut at, _) = element(d, cert)?;
    if d.get(at) == Some(&0xa0) {
        at = element(d, at)?.2; // explicit version
    }
    for _ in 0..3 {
        at = element(d, at)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = element(d, at)?;
    let not_before_end = element(d, validity)?.2;
    let (tag, s, e) = element(d, not_before_end)?;
    let text = std::str::from_utf8(&d[s..e]).ok()?;
    let full = match tag {
        0x17 => {
            // UTCTime YYMMDDHHMMSSZ: 50–99 are 19xx
            let yy: u32 = text.get(0..2)?.parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    let t = NaiveDateTime::parse_from_str(full.trim_end_matches('Z'), "%Y%m%d%H%M%S").ok()?;
    Some(t.and_utc())
}
