//! Application keys: 256 random bits, shown once as `fsk_<base64url>`, stored as an Argon2id hash (the argon2
//! crate's defaults: 19 MiB, 2 passes, the OWASP recommendation) in the PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;

/// The prefix makes a leaked key recognisable to secret scanners.
const KEY_PREFIX: &str = "fsk_";

/// A new random key.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// An Argon2id hash of a key, as a PHC string (`$argon2id$v=19$m=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(key: &str) -> anyhow::Result<Self> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        let hash = Argon2::default()
            .hash_password(key.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("hashing a key: {e}"))?;
        Ok(Self(hash.to_string()))
    }

    /// Checks a stored PHC string is one this build can verify.
    pub fn parse(phc: String) -> anyhow::Result<Self> {
        PasswordHash::new(&phc)
            .map_err(|e| anyhow::anyhow!("stored key hash is malformed: {e}"))?;
        Ok(Self(phc))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` is the key of this hash. Costs an Argon2 evaluation (tens of milliseconds): run it on the
    /// blocking pool and cache the answer.
    pub fn verify(&self, key: &str) -> bool {
        PasswordHash::new(&self.0).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(key.as_bytes(), &hash)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashes_salted() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 43);
        let (h1, h2) = (KeyHash::of(&a).unwrap(), KeyHash::of(&a).unwrap());
        assert_ne!(h1, h2, "every hash has its own salt");
        assert!(h1.as_str().starts_with("$argon2id$"));
        assert!(h1.verify(&a) && h2.verify(&a) && !h1.verify(&b));
        assert!(KeyHash::parse("not a hash".into()).is_err());
    }
}
