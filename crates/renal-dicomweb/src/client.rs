//! The DICOMweb client: one agent (a pool of keep-alive connections, timeouts, TLS), the
//! credentials, and every request tried again with exponential backoff on connection errors
//! and 5xx answers (never on 4xx: the archive's answer would not change).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{DicomWebError, Result};
use crate::json::{parse_answer, tags, Attributes};
use crate::multipart::{boundary_of, read_parts, MultipartError, PartSink};

/// How the client proves who it is.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Never print a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "Auth::None"),
            Auth::Basic { user, .. } => write!(f, "Auth::Basic({user}, ***)"),
            Auth::Bearer(_) => write!(f, "Auth::Bearer(***)"),
        }
    }
}

/// The client's settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub auth: Auth,
    /// PEM file of the certificate authorities trusted for https (default: the Mozilla roots).
    pub ca_file: Option<PathBuf>,
    /// Connect, read and write timeout of each request.
    pub timeout: Duration,
    /// Tries after the first, on connection errors and 5xx.
    pub retries: u32,
    /// The first wait before a retry; doubled each time.
    pub backoff: Duration,
    /// The most bytes one retrieved object (a multipart part) may take.
    pub max_object: u64,
    /// The most bytes a JSON answer may take.
    pub max_json: u64,
    /// Connections kept open to the archive.
    pub connections: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            auth: Auth::None,
            ca_file: None,
            timeout: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_object: 2 << 30,
            max_json: 64 << 20,
            connections: 4,
        }
    }
}

/// A DICOMweb service at a base URL (e.g. `http://pacs:8042/dicom-web`).
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
    opts: Options,
}

impl std::fmt::Debug for Client {
    // The Authorization header is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({}, {:?})", self.base, self.opts.auth)
    }
}

/// What STOW-RS stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreReport {
    pub status: u16,
    /// SOP Instance UIDs the archive says it stored.
    pub stored: Vec<String>,
}

/// `application/dicom` parts accepted by WADO-RS, in the transfer syntax the archive holds.
const ACCEPT_DICOM: &str = "multipart/related; type=\"application/dicom\"; transfer-syntax=*";
const ACCEPT_JSON: &str = "application/dicom+json, application/json";

fn tls_config(path: &Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls_pki_types::pem::PemObject;
    let tls = |detail: String| DicomWebError::Tls {
        path: path.to_path_buf(),
        detail,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| tls(format!("reading the CA file: {e}")))?;
    for c in certs {
        let c = c.map_err(|e| tls(format!("a certificate of the CA file: {e}")))?;
        roots
            .add(c)
            .map_err(|e| tls(format!("a certificate of the CA file: {e}")))?;
    }
    if roots.is_empty() {
        return Err(tls("the CA file holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A query string's value, percent-encoded (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `uid` can be a DICOM UID on the wire: 1-64 digits and dots.
pub fn is_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 64 && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// A path segment from an archive's UID: only digits and dots are sent, so that no answer
/// (nor a manifest) can steer a request elsewhere.
fn uid_segment(url: &str, uid: &str) -> Result<String> {
    if !is_uid(uid) {
        return Err(DicomWebError::BadUrl {
            url: url.to_string(),
            url_given: format!("a UID `{}`", uid.escape_debug()),
        });
    }
    Ok(uid.to_string())
}

impl Client {
    /// A client of the DICOMweb service at `base`.
    pub fn new(base: &str, opts: Options) -> Result<Client> {
        let trimmed = base.trim().trim_end_matches('/');
        let scheme_ok = trimmed.starts_with("http://") || trimmed.starts_with("https://");
        if !scheme_ok || trimmed.contains(['?', '#', ' ']) || trimmed.contains('@') {
            return Err(DicomWebError::BadUrl {
                url: base.to_string(),
                url_given: base.to_string(),
            });
        }
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(opts.timeout)
            .timeout_read(opts.timeout)
            .timeout_write(opts.timeout)
            .max_idle_connections_per_host(opts.connections.max(1))
            // Credentials are never sent on to another host.
            .redirects(0)
            .user_agent(concat!("renal-triage/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &opts.ca_file {
            builder = builder.tls_config(tls_config(ca)?);
        }
        let authorization = match &opts.auth {
            Auth::None => None,
            Auth::Basic { user, password } => {
                use base64::Engine;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                Some(format!("Basic {token}"))
            }
            Auth::Bearer(t) => Some(format!("Bearer {}", t.trim())),
        };
        Ok(Client {
            base: trimmed.to_string(),
            agent: builder.build(),
            authorization,
            opts,
        })
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Sends a request, trying again with backoff on connection errors and 5xx.
    fn send(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<ureq::Response> {
        // DICOM objects travel as the archive holds them (their pixel data is often
        // compressed already): no gzip on top, which would cost the archive CPU for little.
        let encoding = if accept == ACCEPT_JSON {
            "gzip"
        } else {
            "identity"
        };
        let mut tries = 0u32;
        loop {
            tries += 1;
            let mut req = self
                .agent
                .request(method, url)
                .set("Accept", accept)
                .set("Accept-Encoding", encoding);
            if let Some(a) = &self.authorization {
                req = req.set("Authorization", a);
            }
            let result = match body {
                Some((ct, bytes)) => req.set("Content-Type", ct).send_bytes(bytes),
                None => req.call(),
            };
            let again = tries <= self.opts.retries;
            match result {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(code, r)) if code >= 500 && again => {
                    tracing::warn!("archive answered HTTP {code}; trying again ({tries})");
                    drop(r);
                }
                Err(ureq::Error::Status(code, r)) => return Err(status_error(url, code, r)),
                Err(ureq::Error::Transport(t)) if again => {
                    tracing::warn!("archive unreachable ({}); trying again ({tries})", t.kind());
                }
                Err(ureq::Error::Transport(t)) => {
                    return Err(DicomWebError::Unreachable {
                        url: url.to_string(),
                        tries,
                        detail: t.to_string(),
                    })
                }
            }
            std::thread::sleep(self.opts.backoff * 2u32.saturating_pow(tries - 1));
        }
    }

    /// The scheme, host and port of the base URL (`http://host:8042`).
    pub fn origin(&self) -> &str {
        let after = self.base.find("://").map_or(0, |i| i + 3);
        match self.base[after..].find('/') {
            Some(i) => &self.base[..after + i],
            None => &self.base,
        }
    }

    /// A request outside DICOMweb on the archive's own host (e.g. Orthanc's REST API, for a
    /// benchmark's baseline), with the same credentials, retries and limits; the answer's body.
    pub fn origin_request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Vec<u8>> {
        let url = format!("{}/{}", self.origin(), path.trim_start_matches('/'));
        let resp = self.send(method, &url, "*/*", body)?;
        read_limited(resp, &url, self.opts.max_object)
    }

    /// A QIDO-RS search: `path` is `studies`, `series`, `studies/{uid}/series`, ...
    pub fn search(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<Attributes>> {
        let mut url = format!("{}/{}", self.base, path);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", encode(k), encode(v)));
        }
        let resp = self.send("GET", &url, ACCEPT_JSON, None)?;
        if resp.status() == 204 {
            return Ok(Vec::new());
        }
        let bytes = read_limited(resp, &url, self.opts.max_json)?;
        parse_answer(&bytes).map_err(|e| DicomWebError::Malformed {
            url,
            what: "DICOM JSON",
            detail: e.0,
        })
    }

    /// The series of a study (QIDO-RS), with their modality, description and size.
    pub fn study_series(&self, study: &str) -> Result<Vec<Attributes>> {
        let s = uid_segment(&self.base, study)?;
        let found = self.search("studies", &[("StudyInstanceUID", &s)])?;
        if found.is_empty() {
            return Err(DicomWebError::NotFound {
                url: format!("{}/studies?StudyInstanceUID={s}", self.base),
            });
        }
        self.search(
            &format!("studies/{s}/series"),
            &[("includefield", "0008103E"), ("includefield", "00201209")],
        )
    }

    /// The SOP Instance UIDs of a series (QIDO-RS).
    pub fn series_instances(&self, study: &str, series: &str) -> Result<Vec<String>> {
        let path = format!(
            "studies/{}/series/{}/instances",
            uid_segment(&self.base, study)?,
            uid_segment(&self.base, series)?
        );
        Ok(self
            .search(&path, &[])?
            .iter()
            .filter_map(|a| a.text(tags::SOP_INSTANCE))
            .collect())
    }

    /// Retrieves a series (WADO-RS) into `sink`, one part per instance, streaming; returns
    /// the number of instances.
    pub fn retrieve_series(
        &self,
        study: &str,
        series: &str,
        sink: &mut dyn PartSink,
    ) -> Result<usize> {
        let url = format!(
            "{}/studies/{}/series/{}",
            self.base,
            uid_segment(&self.base, study)?,
            uid_segment(&self.base, series)?
        );
        let resp = self.send("GET", &url, ACCEPT_DICOM, None)?;
        let ct = resp.header("Content-Type").unwrap_or_default().to_string();
        let boundary = boundary_of(&ct).map_err(|e| multipart_error(&url, e, 0))?;
        read_parts(resp.into_reader(), &boundary, self.opts.max_object, sink)
            .map_err(|e| multipart_error(&url, e, self.opts.max_object))
    }

    /// Stores DICOM objects into a study (STOW-RS); an object the archive refuses is an
    /// error with its status and reasons.
    pub fn store(&self, study: &str, objects: &[Vec<u8>]) -> Result<StoreReport> {
        let url = format!("{}/studies/{}", self.base, uid_segment(&self.base, study)?);
        let boundary = boundary_for(objects);
        let mut body = Vec::new();
        for o in objects {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(o);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
        let (status, answer) = match self.send("POST", &url, ACCEPT_JSON, Some((&ct, &body))) {
            Ok(r) => (r.status(), read_limited(r, &url, self.opts.max_json)?),
            // 400 and 409 carry the report of what failed; other errors are the archive's.
            Err(DicomWebError::Status { status, reason, .. }) if [400, 409].contains(&status) => {
                (status, reason.into_bytes())
            }
            Err(e) => return Err(e),
        };
        store_report(&url, status, &answer, objects.len())
    }
}

/// A multipart boundary that occurs in none of the objects.
fn boundary_for(objects: &[Vec<u8>]) -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (0u64..)
        .map(|k| format!("renal-triage-{seed:x}-{k}"))
        .find(|b| {
            let f = memchr::memmem::Finder::new(b.as_bytes());
            objects.iter().all(|o| f.find(o).is_none())
        })
        .unwrap_or_default()
}

/// STOW-RS's answer read: every object referenced as stored, or an error naming the reasons.
fn store_report(url: &str, status: u16, answer: &[u8], sent: usize) -> Result<StoreReport> {
    let report = parse_answer(answer).unwrap_or_default();
    let first = report.first().cloned().unwrap_or_default();
    let failed = first.items(tags::FAILED_SOP_SEQUENCE);
    let stored: Vec<String> = first
        .items(tags::REFERENCED_SOP_SEQUENCE)
        .iter()
        .filter_map(|i| i.text(tags::REFERENCED_SOP_INSTANCE))
        .collect();
    if !failed.is_empty() || status >= 300 || stored.len() < sent {
        let mut reasons: Vec<String> = failed
            .iter()
            .map(|f| failure_reason(f.int(tags::FAILURE_REASON)))
            .collect();
        if reasons.is_empty() {
            let text = String::from_utf8_lossy(answer);
            reasons.push(if text.trim().is_empty() || status < 300 {
                format!("{} of {sent} objects acknowledged", stored.len())
            } else {
                excerpt(&text)
            });
        }
        return Err(DicomWebError::StoreRefused {
            url: url.to_string(),
            status,
            sent,
            failed: failed.len().max(sent - stored.len().min(sent)),
            reasons: reasons.join("; "),
        });
    }
    Ok(StoreReport { status, stored })
}

/// A STOW-RS Failure Reason (PS3.18 Table 10.5.3-1, PS3.4 Annex B) in words.
fn failure_reason(code: Option<i64>) -> String {
    let words = match code {
        Some(0xA700) => "out of resources",
        Some(0xA900) => "the data set does not match the SOP class",
        Some(0xC000) => "cannot understand",
        Some(0xC122) => "the referenced transfer syntax is not supported",
        Some(0x0110) => "processing failure",
        Some(0x0122) => "the SOP class is not supported",
        Some(0x0124) => "not authorized",
        _ => "no reason given",
    };
    match code {
        Some(c) => format!("{words} (0x{c:04X})"),
        None => words.into(),
    }
}

/// A short, single-line excerpt of an answer's text.
fn excerpt(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    one.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn status_error(url: &str, status: u16, resp: ureq::Response) -> DicomWebError {
    match status {
        401 | 403 => DicomWebError::Unauthorized {
            url: url.to_string(),
            status,
            hint: if status == 401 {
                ": give --user with --password-file (or RENAL_TRIAGE_PACS_PASSWORD), or --token-file"
            } else {
                ": these credentials may not do this"
            },
        },
        404 => DicomWebError::NotFound {
            url: url.to_string(),
        },
        _ => {
            let status_text = resp.status_text().to_string();
            let mut body = String::new();
            let _ = resp.into_reader().take(64 << 10).read_to_string(&mut body);
            let reason = if body.trim().is_empty() {
                status_text
            } else {
                excerpt(&body)
            };
            DicomWebError::Status {
                url: url.to_string(),
                status,
                reason,
            }
        }
    }
}

/// An answer that stopped arriving: transient, so the caller may ask again.
fn broke_off(url: &str, e: std::io::Error) -> DicomWebError {
    DicomWebError::Unreachable {
        url: url.to_string(),
        tries: 1,
        detail: format!("the connection broke mid-answer: {e}"),
    }
}

/// An answer's body, refused beyond `limit` bytes.
fn read_limited(resp: ureq::Response, url: &str, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| broke_off(url, e))?;
    if bytes.len() as u64 > limit {
        return Err(DicomWebError::TooLarge {
            url: url.to_string(),
            what: "a JSON answer",
            limit,
        });
    }
    Ok(bytes)
}

fn multipart_error(url: &str, e: MultipartError, limit: u64) -> DicomWebError {
    match e {
        MultipartError::TooLarge(_) => DicomWebError::TooLarge {
            url: url.to_string(),
            what: "one retrieved object",
            limit,
        },
        MultipartError::Io(e) => broke_off(url, e),
        MultipartError::Malformed(detail) => DicomWebError::Malformed {
            url: url.to_string(),
            what: "multipart/related",
            detail,
        },
        MultipartError::Sink(detail) => DicomWebError::Malformed {
            url: url.to_string(),
            what: "DICOM",
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_uids_are_checked() {
        assert!(Client::new("http://127.0.0.1:8042/dicom-web/", Options::default()).is_ok());
        for bad in [
            "ftp://x",
            "127.0.0.1:8042",
            "http://u:p@host/dicom-web",
            "http://h/x?y",
        ] {
            assert!(Client::new(bad, Options::default()).is_err(), "{bad}");
        }
        assert!(uid_segment("u", "1.2.840.10008").is_ok());
        for bad in ["", "1.2/../x", "1.2?a=b", &"1".repeat(65)] {
            assert!(uid_segment("u", bad).is_err(), "{bad}");
        }
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
        let c = Client::new("https://pacs.example:8443/x/dicom-web", Options::default()).unwrap();
        assert_eq!(c.origin(), "https://pacs.example:8443");
    }

    #[test]
    fn store_reports_name_what_failed() {
        let ok = br#"{"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2.3"]}}]}}"#;
        let r = store_report("u", 200, ok, 1).unwrap();
        assert_eq!(r.stored, vec!["1.2.3".to_string()]);
        let bad = br#"{"00081198": {"vr": "SQ", "Value": [{"00081197": {"vr": "US", "Value": [43264]}}]}}"#;
        let e = store_report("u", 409, bad, 1).unwrap_err().to_string();
        assert!(
            e.contains("HTTP 409") && e.contains("does not match the SOP class (0xA900)"),
            "{e}"
        );
        // 200 with fewer acknowledgements than objects sent is not success.
        let e = store_report("u", 200, ok, 2).unwrap_err().to_string();
        assert!(e.contains("1 of 2 objects acknowledged"), "{e}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let a = Auth::Basic {
            user: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Bearer("tok123".into())).contains("tok123"));
    }

    #[test]
    fn boundaries_avoid_the_objects_bytes() {
        let b = boundary_for(&[]);
        let obj = format!("xx{b}yy").into_bytes();
        let b2 = boundary_for(std::slice::from_ref(&obj));
        assert!(!String::from_utf8_lossy(&obj).contains(&b2));
    }
}
