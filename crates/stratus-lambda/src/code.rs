//! Code packages: zips stored by content hash, unpacked once, and local-code
//! directories watched for changes.

use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use sha2::{Digest, Sha256};
use stratus_core::AwsError;

use crate::errors::invalid_param;

/// A stored zip: `sha` is the hex digest (file name), `sha_b64` what Lambda reports.
pub(crate) struct StoredZip {
    pub sha: String,
    pub sha_b64: String,
    pub size: i64,
}

pub(crate) fn sha256_b64(bytes: &[u8]) -> (String, String) {
    let digest = Sha256::digest(bytes);
    (
        hex::encode(digest),
        base64::engine::general_purpose::STANDARD.encode(digest),
    )
}

fn zip_path(data: &Path, sha: &str) -> PathBuf {
    data.join("code").join(format!("{sha}.zip"))
}

/// Check that `bytes` is a readable zip and store it durably (temp file,
/// fsync, rename) before the record naming it is written.
pub(crate) fn store_zip(data: &Path, bytes: &[u8]) -> Result<StoredZip, AwsError> {
    if zip::ZipArchive::new(Cursor::new(bytes)).is_err() {
        return Err(invalid_param(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ));
    }
    let (sha, sha_b64) = sha256_b64(bytes);
    let path = zip_path(data, &sha);
    if !path.exists() {
        write_durably(&path, bytes)
            .map_err(|e| AwsError::internal(format!("storing the code package: {e}")))?;
    }
    Ok(StoredZip {
        sha,
        sha_b64,
        size: bytes.len() as i64,
    })
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

pub(crate) fn read_zip(data: &Path, sha: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(zip_path(data, sha))
}

/// The directory holding the unpacked zip `sha`, unpacking it on first use.
/// Unpacked trees are shared by every environment of every function using
/// the same package and are never modified.
pub(crate) fn unpacked(data: &Path, sha: &str) -> std::io::Result<PathBuf> {
    let dir = data.join("unpacked").join(sha);
    if dir.is_dir() {
        return Ok(dir);
    }
    let bytes = read_zip(data, sha)?;
    let tmp = data
        .join("unpacked")
        .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    archive
        .extract(&tmp)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another environment unpacked it first.
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(e),
    }
}

/// A cheap fingerprint of a local-code directory: newest mtime and entry
/// count over the tree (bounded, so a huge `node_modules` stays cheap).
pub(crate) fn tree_fingerprint(dir: &Path) -> (u128, usize) {
    let mut newest = 0u128;
    let mut count = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            count += 1;
            if count > 20_000 {
                return (newest, count);
            }
            let Ok(meta) = e.metadata() else { continue };
            if let Ok(m) = meta.modified() {
                let t = m
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                newest = newest.max(t);
            }
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (newest, count)
}

/// The base64 SHA-256 Lambda reports for a stored package, from its hex name.
pub(crate) fn read_zip_sha_b64(sha_hex: &str) -> String {
    hex::decode(sha_hex)
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
        .unwrap_or_default()
}
