//! `known_hosts` verification of an SSH server's host key (OpenSSH
//! `sshd(8)` "SSH_KNOWN_HOSTS FILE FORMAT"): plain and hashed (`|1|salt|hash`)
//! host names, `[host]:port` for non-default ports, `*`/`?` wildcards and `!`
//! negation, and `@revoked` markers. `@cert-authority` lines are ignored
//! (host certificates are not supported): a host known only through a CA is
//! reported as unknown.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::error::Error;

/// A parsed `known_hosts` file.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    revoked: bool,
    patterns: Vec<Pattern>,
    key: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Pattern {
    Plain { negated: bool, glob: String },
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

/// The outcome of checking a host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// An entry for the host has this exact key.
    Trusted,
    /// No entry names the host.
    Unknown,
    /// Entries name the host, none with this key (or the key is revoked).
    Mismatch,
}

impl KnownHosts {
    /// Parses the text of a `known_hosts` file.
    ///
    /// # Errors
    /// [`Error::InvalidTrust`] when a line has too few fields or a key that is
    /// not base64; the message gives the line number.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| Error::InvalidTrust {
                what: "known_hosts",
                reason: format!("line {}: {what}", n + 1),
            };
            let mut fields = line.split_whitespace();
            let mut first = fields.next().ok_or_else(|| bad("empty"))?;
            let mut revoked = false;
            if first.starts_with('@') {
                match first {
                    "@revoked" => revoked = true,
                    "@cert-authority" => continue,
                    _ => return Err(bad("unknown marker")),
                }
                first = fields.next().ok_or_else(|| bad("missing host names"))?;
            }
            let _key_type = fields.next().ok_or_else(|| bad("missing key type"))?;
            let key_b64 = fields.next().ok_or_else(|| bad("missing key"))?;
            let key = b64.decode(key_b64).map_err(|_| bad("key is not base64"))?;
            let mut patterns = Vec::new();
            for p in first.split(',') {
                if let Some(rest) = p.strip_prefix("|1|") {
                    let (salt, hash) =
                        rest.split_once('|').ok_or_else(|| bad("bad hashed host"))?;
                    patterns.push(Pattern::Hashed {
                        salt: b64.decode(salt).map_err(|_| bad("bad hashed host salt"))?,
                        hash: b64.decode(hash).map_err(|_| bad("bad hashed host hash"))?,
                    });
                } else if let Some(glob) = p.strip_prefix('!') {
                    patterns.push(Pattern::Plain {
                        negated: true,
                        glob: glob.to_ascii_lowercase(),
                    });
                } else {
                    patterns.push(Pattern::Plain {
                        negated: false,
                        glob: p.to_ascii_lowercase(),
                    });
                }
            }
            entries.push(Entry {
                revoked,
                patterns,
                key,
            });
        }
        Ok(KnownHosts { entries })
    }

    /// Checks `key` (the SSH wire-format public key blob) offered by `host`
    /// on `port`.
    pub(crate) fn verify(&self, host: &str, port: u16, key: &[u8]) -> Verdict {
        let name = host_name(host, port);
        let mut named = false;
        for entry in &self.entries {
            if !entry.matches(&name) {
                continue;
            }
            if entry.revoked {
                if entry.key == key {
                    return Verdict::Mismatch;
                }
                continue;
            }
            named = true;
            if entry.key == key {
                return Verdict::Trusted;
            }
        }
        if named {
            Verdict::Mismatch
        } else {
            Verdict::Unknown
        }
    }
}

/// The name a host has in known_hosts: `host`, or `[host]:port` when the port
/// is not 22.
pub(crate) fn host_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

impl Entry {
    fn matches(&self, name: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            match p {
                Pattern::Hashed { salt, hash } => {
                    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) else {
                        continue;
                    };
                    mac.update(name.as_bytes());
                    if mac.verify_slice(hash).is_ok() {
                        matched = true;
                    }
                }
                Pattern::Plain { negated, glob } => {
                    if glob_match(glob.as_bytes(), name.as_bytes()) {
                        if *negated {
                            return false;
                        }
                        matched = true;
                    }
                }
            }
        }
        matched
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text) || (!text.is_empty() && glob_match(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// The key type named inside an SSH public key blob (`ssh-ed25519`, ...).
pub(crate) fn key_type(blob: &[u8]) -> String {
    let len = blob
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    blob.get(4..4 + len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("unknown")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const OTHER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";

    fn blob(k: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(k)
            .expect("base64")
    }

    #[test]
    fn plain_port_and_wildcard_entries() {
        let kh = KnownHosts::parse(&format!(
            "# comment\n[127.0.0.1]:2222 ssh-ed25519 {KEY}\n*.example.com,!bad.example.com ssh-ed25519 {KEY}\n"
        ))
        .expect("parse");
        assert_eq!(kh.verify("127.0.0.1", 2222, &blob(KEY)), Verdict::Trusted);
        assert_eq!(
            kh.verify("127.0.0.1", 2222, &blob(OTHER)),
            Verdict::Mismatch
        );
        assert_eq!(kh.verify("127.0.0.1", 22, &blob(KEY)), Verdict::Unknown);
        assert_eq!(
            kh.verify("git.example.com", 22, &blob(KEY)),
            Verdict::Trusted
        );
        assert_eq!(
            kh.verify("bad.example.com", 22, &blob(KEY)),
            Verdict::Unknown
        );
        assert_eq!(key_type(&blob(KEY)), "ssh-ed25519");
    }

    #[test]
    fn hashed_entries_and_revocation() {
        // `ssh-keygen -H` form of "[127.0.0.1]:2222", computed here.
        let salt = b"0123456789abcdefghij";
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).expect("hmac");
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = format!(
            "|1|{}|{} ssh-ed25519 {KEY}\n@revoked * ssh-ed25519 {OTHER}\n",
            b64.encode(salt),
            b64.encode(hash)
        );
        let kh = KnownHosts::parse(&line).expect("parse");
        assert_eq!(kh.verify("127.0.0.1", 2222, &blob(KEY)), Verdict::Trusted);
        assert_eq!(kh.verify("127.0.0.1", 2223, &blob(KEY)), Verdict::Unknown);
        assert_eq!(
            kh.verify("127.0.0.1", 2222, &blob(OTHER)),
            Verdict::Mismatch
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let err = KnownHosts::parse("host ssh-ed25519\n").expect_err("missing key");
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = KnownHosts::parse("\nhost ssh-ed25519 !!!\n").expect_err("not base64");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
