//! Ed25519 signatures of bundles: `train --sign KEY.pem` signs the bundle's digest (the
//! sha256 of its canonical manifest, which covers every file) and writes `bundle.sig`;
//! `serve`/`predict --trusted-keys FILE` accept only a bundle signed by one of the keys.
//!
//! The private key is a PKCS#8 PEM file as `openssl genpkey -algorithm ed25519` writes it; a
//! public key is written `ed25519:<64 hex digits>` (printed by `train --sign` and `inspect`);
//! a trusted-keys file holds one per line (`#` comments allowed). `bundle.sig` is one line:
//! `ed25519:<public key hex> <signature hex>`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use renal_cohort::io::{hex, unhex};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// The signature file beside `bundle.json`.
pub const SIGNATURE_FILE: &str = "bundle.sig";

/// A public key as written here.
pub fn public_key_text(public: &[u8]) -> String {
    format!("ed25519:{}", hex(public))
}

fn parse_public(s: &str) -> Option<Vec<u8>> {
    unhex(s.trim().strip_prefix("ed25519:")?).filter(|k| k.len() == 32)
}

/// Reads a PKCS#8 PEM private key.
fn load_key(path: &Path) -> Result<Ed25519KeyPair> {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_file(path).with_context(|| {
        format!(
            "{}: not a PKCS#8 PEM private key (make one with `openssl genpkey -algorithm ed25519 -out KEY.pem`)",
            path.display()
        )
    })?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
        .map_err(|e| anyhow::anyhow!("{}: not an Ed25519 key ({e})", path.display()))
}

/// Signs a bundle's digest with the key at `key`, writing `bundle.sig` into `dir`; the
/// public key, as written here.
pub fn sign(dir: &Path, digest: &str, key: &Path) -> Result<String> {
    let pair = load_key(key)?;
    let sig = pair.sign(digest.as_bytes());
    let public = public_key_text(pair.public_key().as_ref());
    renal_cohort::io::write_atomic(
        &dir.join(SIGNATURE_FILE),
        format!("{public} {}\n", hex(sig.as_ref())).as_bytes(),
    )
    .context("writing bundle.sig")?;
    Ok(public)
}

/// The public keys of a trusted-keys file, as written here (`ed25519:<hex>`).
pub fn load_trusted(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the trusted keys {}", path.display()))?;
    let keys = renal_cohort::io::entry_lines(&text)
        .map(|(n, l)| match parse_public(l) {
            Some(k) => Ok(public_key_text(&k)),
            None => bail!(
                "{} line {n}: not `ed25519:` and 64 hex digits",
                path.display()
            ),
        })
        .collect::<Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("{}: no trusted key", path.display());
    }
    Ok(keys)
}

/// Who signed a bundle: `Ok(None)` when it has no signature (`sig`: the bytes of its
/// `bundle.sig`, as the bundle's load read them), `Ok(Some(key))` when its signature verifies
/// for `digest`, an error when it is present but wrong.
pub fn signer(dir: &Path, sig: Option<&[u8]>, digest: &str) -> Result<Option<String>> {
    let Some(bytes) = sig else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(bytes);
    let mut parts = text.split_whitespace();
    let (Some(key), Some(sig)) = (parts.next(), parts.next()) else {
        bail!("{}: malformed bundle.sig", dir.display());
    };
    let (Some(public), Some(sig)) = (parse_public(key), unhex(sig)) else {
        bail!("{}: malformed bundle.sig", dir.display());
    };
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(digest.as_bytes(), &sig)
        .map_err(|_| {
            anyhow::anyhow!(
                "{}: bundle.sig does not verify: the bundle was altered after it was signed",
                dir.display()
            )
        })?;
    Ok(Some(public_key_text(&public)))
}

/// Refuses a bundle (in `dir`) not signed by one of the keys of the file `trusted` (when
/// given); `signer` is the bundle's verified signer ([`signer`], as the bundle's load found it).
pub fn check_trusted(dir: &Path, signer: Option<&str>, trusted: Option<&Path>) -> Result<()> {
    let Some(path) = trusted else {
        return Ok(());
    };
    let keys = load_trusted(path)?;
    match signer {
        None => bail!(
            "{}: the bundle is not signed, and --trusted-keys asks for a signature",
            dir.display()
        ),
        Some(k) if keys.iter().any(|t| t == k) => Ok(()),
        Some(k) => bail!(
            "{}: signed by {k}, which is not among the trusted keys in {}",
            dir.display(),
            path.display()
        ),
    }
}
