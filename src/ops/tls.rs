//! TLS certificate files: making an intranet CA and a server certificate (`wangge cert`,
//! with rcgen) and reading when one expires (`wangge doctor`: a small DER walk over the
//! certificate's `validity`, RFC 5280 §4.1, so no X.509 parser is needed for one date).
//!
//! Why a CA and not one self-signed certificate: a phone trusts a certificate only when its
//! issuer is installed as a trusted root, and Android and iOS accept user-installed *CA*
//! certificates. The CA is installed once on each phone and PC (`ca.pem`, also offered at
//! `/ca.pem` by the server); server certificates renewed from the same CA key need nothing
//! new on the phones.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What can go wrong with certificate files.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no `-----BEGIN CERTIFICATE-----` block.
    #[error("{0}: no PEM certificate")]
    NoCertificate(PathBuf),
    /// The certificate's validity cannot be read.
    #[error("{0}: cannot read the certificate's validity")]
    Validity(PathBuf),
    /// A `--host` that is neither an IP address nor a DNS name.
    #[error("--host {host:?}: not an IP address or a DNS name (letters, digits, '-' and '.')")]
    Host {
        /// The name given.
        host: String,
    },
    /// No `--host` given.
    #[error(
        "give at least one --host: the name or IP address phones and PCs type to reach the server"
    )]
    NoHost,
    /// The CA key in the folder cannot be read or used.
    #[error(
        "{path}: not a usable CA key ({source}); move the folder's ca*.pem away to make a new CA"
    )]
    CaKey {
        /// The key file.
        path: PathBuf,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// Making a key or signing failed.
    #[error("cannot make the certificate: {0}")]
    Make(#[from] rcgen::Error),
}

/// The `notAfter` date of the first certificate in a PEM file.
pub fn not_after(path: &Path) -> Result<DateTime<Utc>, TlsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })?;
    let der = first_pem_cert(&text).ok_or_else(|| TlsError::NoCertificate(path.into()))?;
    validity_end(&der).ok_or_else(|| TlsError::Validity(path.into()))
}

/// The files `wangge cert` writes into its folder.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// The CA certificate: install it on phones and PCs as a trusted root.
    pub ca: PathBuf,
    /// The CA's private key (mode 0600): keep it to renew the server certificate.
    pub ca_key: PathBuf,
    /// The server's certificate chain (server certificate, then the CA): `--tls-cert`.
    pub cert: PathBuf,
    /// The server's private key (mode 0600): `--tls-key`.
    pub key: PathBuf,
    /// Whether the CA was made now (false: the folder's CA was reused).
    pub new_ca: bool,
    /// When the server certificate expires.
    pub not_after: DateTime<Utc>,
}

/// The CA's name; the same every time, so a kept CA key can sign again without parsing its
/// certificate (the issuer name of a server certificate must equal the CA's subject).
fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name
        .push(DnType::CommonName, "wangge intranet CA");
    p.distinguished_name
        .push(DnType::OrganizationName, "wangge");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

/// rcgen's time from chrono's.
fn rc_time(t: DateTime<Utc>) -> Result<OffsetDateTime, rcgen::Error> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|_| rcgen::Error::Time)
}

/// Makes (or reuses, when `dir` already holds `ca.pem` and `ca-key.pem`) an intranet CA and
/// a server certificate for `hosts` (DNS names and IP addresses, the first also its common
/// name) valid for `days` from now, written into `dir` as [`CertFiles`].
pub fn make_certificate(hosts: &[String], dir: &Path, days: u32) -> Result<CertFiles, TlsError> {
    if hosts.is_empty() {
        return Err(TlsError::NoHost);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = |new_ca, not_after| CertFiles {
        ca: dir.join("ca.pem"),
        ca_key: dir.join("ca-key.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        new_ca,
        not_after,
    };
    let now = Utc::now();
    let mut f = files(false, now + chrono::Duration::days(days.into()));
    let (ca_pem, ca_key) = if f.ca.exists() && f.ca_key.exists() {
        let pem = std::fs::read_to_string(&f.ca).map_err(io(&f.ca))?;
        let key_pem = std::fs::read_to_string(&f.ca_key).map_err(io(&f.ca_key))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|source| TlsError::CaKey {
            path: f.ca_key.clone(),
            source,
        })?;
        (pem, key)
    } else {
        let key = KeyPair::generate()?;
        let mut p = ca_params();
        p.not_before = rc_time(now - chrono::Duration::days(1))?;
        p.not_after = rc_time(now + chrono::Duration::days(3650))?;
        let pem = p.self_signed(&key)?.pem();
        write_private(&f.ca_key, &key.serialize_pem())?;
        std::fs::write(&f.ca, &pem).map_err(io(&f.ca))?;
        f.new_ca = true;
        (pem, key)
    };
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    for h in hosts {
        p.subject_alt_names.push(san(h)?);
    }
    p.distinguished_name
        .push(DnType::CommonName, hosts[0].as_str());
    p.not_before = rc_time(now - chrono::Duration::hours(1))?;
    p.not_after = rc_time(f.not_after)?;
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &issuer)?;
    write_private(&f.key, &key.serialize_pem())?;
    std::fs::write(&f.cert, format!("{}{ca_pem}", cert.pem())).map_err(io(&f.cert))?;
    Ok(f)
}

/// One subject alternative name: an IP address or a DNS name (RFC 1123 labels, a leading
/// `*.` allowed).
fn san(host: &str) -> Result<SanType, TlsError> {
    if let Ok(ip) = host.parse() {
        return Ok(SanType::IpAddress(ip));
    }
    let bad = || TlsError::Host { host: host.into() };
    let name = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad());
    }
    Ok(SanType::DnsName(
        host.to_string().try_into().map_err(|_| bad())?,
    ))
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Io {
        path: path.into(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(pem.as_bytes()).map_err(err)
}

/// Each certificate of a PEM file: its DER and its PEM block.
fn pem_certs(text: &str) -> Vec<(Vec<u8>, &str)> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(BEGIN) {
        let body = at + BEGIN.len();
        let Some(len) = rest[body..].find(END) else {
            break;
        };
        let end = body + len + END.len();
        let b64: String = rest[body..body + len].split_whitespace().collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push((der, &rest[at..end]));
        }
        rest = &rest[end..];
    }
    out
}

fn first_pem_cert(text: &str) -> Option<Vec<u8>> {
    pem_certs(text).into_iter().next().map(|(der, _)| der)
}

/// The private root to install on phones: the last certificate of the chain in `path`
/// (PEM, with a final newline) when it is self-issued (its issuer is its subject), as the CA
/// that `wangge cert` makes is; `None` for a chain that ends below a public or enterprise CA
/// the devices already know.
pub fn private_root(path: &Path) -> Result<Option<String>, TlsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })?;
    let certs = pem_certs(&text);
    let (der, pem) = certs
        .last()
        .ok_or_else(|| TlsError::NoCertificate(path.into()))?;
    let self_issued = match (tbs_field(der, 2), tbs_field(der, 4)) {
        (Some((i0, i1)), Some((s0, s1))) => der[i0..i1] == der[s0..s1],
        _ => return Err(TlsError::Validity(path.into())),
    };
    Ok(self_issued.then(|| format!("{pem}\n")))
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

/// The byte range (header included) of field `index` of a certificate's tbsCertificate,
/// counted after the optional version: 0 serial, 1 signature, 2 issuer, 3 validity, 4 subject.
fn tbs_field(d: &[u8], index: usize) -> Option<(usize, usize)> {
    let (_, cert, _) = element(d, 0)?;
    let (_, mut at, _) = element(d, cert)?;
    if d.get(at) == Some(&0xa0) {
        at = element(d, at)?.2; // explicit version
    }
    for _ in 0..index {
        at = element(d, at)?.2;
    }
    Some((at, element(d, at)?.2))
}

/// Certificate → tbsCertificate → validity → notAfter.
fn validity_end(d: &[u8]) -> Option<DateTime<Utc>> {
    let (at, _) = tbs_field(d, 3)?;
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
