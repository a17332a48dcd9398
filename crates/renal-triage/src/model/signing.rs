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

#[cfg(test)]
mod tests {
    //! Keys, public keys and the reference signature were made by OpenSSL 3, not by this code:
    //! `openssl genpkey -algorithm ed25519 -out k.pem`, the public key from
    //! `openssl pkey -in k.pem -pubout -outform DER | tail -c 32`, and the signature of the
    //! message below from `openssl pkeyutl -sign -rawin -inkey k.pem` (Ed25519 signatures are
    //! deterministic, RFC 8032, so ours must equal it byte for byte).
    use super::*;

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEICAvaZigAohUKUdHiIG1EbuWmGNBbMvqzMLhVZ133dN8\n-----END PRIVATE KEY-----\n";
    const PUBLIC: &str = "ed25519:53eadb9caf81c61e8c417ca84f174a95c60ad1652b2dfced8e76b7fdfc496a74";
    const OTHER_PUBLIC: &str =
        "ed25519:090fbf1726dca11a97e228c7c3c0113c310773ac21f3029d227a0622917b9654";
    const MESSAGE: &str = "sha256:0123456789abcdef";
    const OPENSSL_SIGNATURE: &str = "90f63742ec6732290facbc903f99c2e97dfa5f7380e845c5e5bce86bbca17ce42be5d30d4907e1010c8cc17c051920faf3c3997a18b3990819d72f6f473b9e02";

    fn signed() -> (tempfile::TempDir, Vec<u8>) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("k.pem"), KEY).unwrap();
        let public = sign(d.path(), MESSAGE, &d.path().join("k.pem")).unwrap();
        assert_eq!(public, PUBLIC, "the public key OpenSSL derives");
        let sig = std::fs::read(d.path().join(SIGNATURE_FILE)).unwrap();
        (d, sig)
    }

    #[test]
    fn signs_as_openssl_does_and_verifies() {
        let (d, sig) = signed();
        assert_eq!(
            String::from_utf8(sig.clone()).unwrap(),
            format!("{PUBLIC} {OPENSSL_SIGNATURE}\n")
        );
        assert_eq!(
            signer(d.path(), Some(&sig), MESSAGE).unwrap().as_deref(),
            Some(PUBLIC)
        );
        assert_eq!(signer(d.path(), None, MESSAGE).unwrap(), None);
    }

    #[test]
    fn an_altered_digest_or_signature_is_refused() {
        let (d, sig) = signed();
        let e = signer(d.path(), Some(&sig), "sha256:0123456789abcdee").unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
        let mut flipped = sig.clone();
        let last_hex = flipped.len() - 2;
        flipped[last_hex] = if flipped[last_hex] == b'0' {
            b'1'
        } else {
            b'0'
        };
        let e = signer(d.path(), Some(&flipped), MESSAGE).unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
        for bad in [&b""[..], b"ed25519:zz 00", b"only-one-part"] {
            let e = signer(d.path(), Some(bad), MESSAGE).unwrap_err();
            assert!(e.to_string().contains("malformed bundle.sig"), "{e}");
        }
    }

    #[test]
    fn trusted_keys_accept_only_their_signers() {
        let d = tempfile::tempdir().unwrap();
        let keys = d.path().join("keys.txt");
        std::fs::write(&keys, format!("# ours\n{PUBLIC}\n")).unwrap();
        assert!(check_trusted(d.path(), Some(PUBLIC), Some(&keys)).is_ok());
        assert!(
            check_trusted(d.path(), None, None).is_ok(),
            "no file, no demand"
        );
        let e = check_trusted(d.path(), None, Some(&keys)).unwrap_err();
        assert!(e.to_string().contains("not signed"), "{e}");
        let e = check_trusted(d.path(), Some(OTHER_PUBLIC), Some(&keys)).unwrap_err();
        assert!(e.to_string().contains("not among the trusted keys"), "{e}");
        std::fs::write(&keys, format!("{PUBLIC}\ned25519:abc\n")).unwrap();
        let e = load_trusted(&keys).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        std::fs::write(&keys, "# nothing\n\n").unwrap();
        let e = load_trusted(&keys).unwrap_err();
        assert!(e.to_string().contains("no trusted key"), "{e}");
    }

    #[test]
    fn a_key_that_is_not_pkcs8_pem_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        std::fs::write(&p, "not a key").unwrap();
        let e = sign(d.path(), MESSAGE, &p).unwrap_err();
        assert!(
            e.to_string()
                .contains("k.pem: not a PKCS#8 PEM private key"),
            "{e}"
        );
    }
}
