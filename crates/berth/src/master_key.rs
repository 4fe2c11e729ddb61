//! The master key that seals secret access keys at rest.
//!
//! `BERTH_MASTER_KEY` (64 hex characters) wins, which is how every node of a PostgreSQL
//! deployment gets the same key. Otherwise the key lives in `<data-dir>/keys/master.key`,
//! created on first start with mode 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context};

fn parse_hex(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        bail!("a master key is 64 hex characters");
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).context("a master key is hex")?;
    }
    Ok(key)
}

pub fn load_or_create(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = std::env::var("BERTH_MASTER_KEY") {
        if !text.is_empty() {
            return parse_hex(&text).context("BERTH_MASTER_KEY");
        }
    }
    let dir = data_dir.join("keys");
    let path = dir.join("master.key");
    if path.exists() {
        let mode = std::fs::metadata(&path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the master key file is readable by others; chmod 600 it");
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return parse_hex(&text).with_context(|| format!("parsing {}", path.display()));
    }
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let mut key = [0u8; 32];
    getrandom(&mut key)?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex.as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

/// Fills `buf` from the OS's random source.
fn getrandom(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading /dev/urandom")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("berth-master-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_create(&dir).unwrap();
        let mode = std::fs::metadata(dir.join("keys/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&dir).unwrap(), first);
        assert!(parse_hex("zz").is_err());
    }
}
