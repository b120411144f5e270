//! Registry passwords at rest: sealed with ChaCha20-Poly1305 under a key kept in the data
//! folder (`registry.key`, 0600), not in the database. What this protects against: a copy of
//! `berth.db` alone (a backup taken without the key, a leaked file, a viewer of the table) does
//! not give the passwords. It does not protect against someone who reads the whole data folder,
//! who can also read the key — as with any service that must use the secret unattended.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::error::{Error, Result};

pub const KEY_FILE: &str = "registry.key";

pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    /// The key of this data folder, made (32 random bytes, owner-only) on first use.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => {
                return Err(Error::internal(format!(
                    "{} is not a registry key (32 bytes): restore it from the backup it came with",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// `base64(nonce ‖ ciphertext)`.
    pub fn seal(&self, plain: &str) -> Result<String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| Error::internal("sealing a registry secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(B64.encode(out))
    }

    pub fn unseal(&self, sealed: &str) -> Result<String> {
        let raw = B64
            .decode(sealed)
            .map_err(|_| Error::internal("a stored registry secret is not readable"))?;
        if raw.len() < 12 {
            return Err(Error::internal("a stored registry secret is not readable"));
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&raw[..12]), &raw[12..])
            .map_err(|_| {
                Error::BadRequest(format!(
                    "a stored registry secret does not open with this data folder's {KEY_FILE} \
                     (was the database restored without its key?)"
                ))
            })?;
        String::from_utf8(plain)
            .map_err(|_| Error::internal("a stored registry secret is not text"))
    }
}

fn create_key(path: &PathBuf) -> Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(&key)
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
            Ok(key)
        }
        // Made by another Berth process on this folder meanwhile: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", path.display()))),
        Err(e) => Err(Error::internal(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let a = tempfile_dir();
        let b = tempfile_dir();
        let s = Sealer::open(&a).unwrap();
        let sealed = s.seal("hunter2").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            s.seal("hunter2").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(
            Sealer::open(&a).unwrap().unseal(&sealed).unwrap(),
            "hunter2"
        );
        assert!(Sealer::open(&b).unwrap().unseal(&sealed).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(a.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(a);
        let _ = std::fs::remove_dir_all(b);
    }

    fn tempfile_dir() -> PathBuf {
        let mut n = [0u8; 8];
        rand::rng().fill_bytes(&mut n);
        let d = std::env::temp_dir().join(format!("berth-sealer-{}", hex::encode(n)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
