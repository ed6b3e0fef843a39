//! Evidence bundles: a folder or zip of the report, the findings, the case work, the audit
//! trail, the sources and the SQL, with a SHA-256 manifest.
//!
//! `MANIFEST.sha256` has one line per file in the format of `sha256sum`, so `sha256sum -c
//! MANIFEST.sha256` checks a folder bundle without blobtrail. `verify` recomputes every hash
//! and also reports files that were added or removed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "MANIFEST.sha256";

/// The files of a bundle by relative path (forward slashes), sorted.
pub type Files = BTreeMap<String, Vec<u8>>;

fn sha256(bytes: &[u8]) -> String {
    crate::sql::hex(&Sha256::digest(bytes))
}

/// Builds the manifest text for `files`.
pub fn manifest(files: &Files) -> String {
    files.iter().map(|(name, bytes)| format!("{}  {name}\n", sha256(bytes))).collect()
}

/// Writes the bundle to a folder, or to a zip file when `out` ends in `.zip`, and returns the
/// SHA-256 of the manifest. Fails if `out` exists.
pub fn write(mut files: Files, out: &Path) -> Result<String> {
    if out.exists() {
        bail!("`{}` already exists; choose a new path so that no earlier bundle is overwritten", out.display());
    }
    let manifest = manifest(&files);
    let manifest_hash = sha256(manifest.as_bytes());
    files.insert(MANIFEST.to_string(), manifest.into_bytes());

    if is_zip(out) {
        let file = std::fs::File::create(out).with_context(|| format!("cannot create `{}`", out.display()))?;
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &files {
            zip.start_file(name.as_str(), options)?;
            zip.write_all(bytes)?;
        }
        zip.finish()?;
    } else {
        for (name, bytes) in &files {
            let path = out.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
            }
            std::fs::write(&path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
        }
    }
    Ok(manifest_hash)
}

fn is_zip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Reads every file of a bundle folder or zip.
fn read_all(path: &Path) -> Result<Files> {
    let mut files = Files::new();
    if path.is_dir() {
        collect_folder(path, path, &mut files)?;
    } else if path.is_file() {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
        let mut archive = zip::ZipArchive::new(file).with_context(|| format!("`{}` is not a readable zip file", path.display()))?;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index)?;
            if entry.is_dir() {
                continue;
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            files.insert(entry.name().to_string(), bytes);
        }
    } else {
        bail!("bundle `{}` not found", path.display());
    }
    Ok(files)
}

fn collect_folder(root: &Path, dir: &Path, files: &mut Files) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list `{}`", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_folder(root, &path, files)?;
        } else {
            let name = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            files.insert(name, std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?);
        }
    }
    Ok(())
}

/// Checks a bundle against its manifest. Returns the manifest's hash and one message per
/// changed, added or removed file.
pub fn verify(path: &Path) -> Result<(String, Vec<String>)> {
    let mut files = read_all(path)?;
    let Some(manifest) = files.remove(MANIFEST) else {
        bail!("`{}` has no {MANIFEST}: not a blobtrail bundle, or the manifest was removed", path.display());
    };
    let manifest_hash = sha256(&manifest);
    let text = String::from_utf8(manifest).context("the manifest is not UTF-8 text")?;

    let mut problems = Vec::new();
    let mut listed = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let Some((hash, name)) = line.split_once("  ") else {
            problems.push(format!("{MANIFEST} line {} is malformed: `{line}`", number + 1));
            continue;
        };
        listed.insert(name.to_string(), hash.to_string());
    }
    for (name, hash) in &listed {
        match files.get(name) {
            None => problems.push(format!("`{name}` is listed in the manifest but missing")),
            Some(bytes) if &sha256(bytes) != hash => problems.push(format!("`{name}` has changed: its SHA-256 does not match the manifest")),
            Some(_) => {}
        }
    }
    for name in files.keys() {
        if !listed.contains_key(name) {
            problems.push(format!("`{name}` was added: it is not in the manifest"));
        }
    }
    Ok((manifest_hash, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Files {
        let mut files = Files::new();
        files.insert("report.html".into(), b"<html></html>".to_vec());
        files.insert("sql/001.sql".into(), b"select 1".to_vec());
        files
    }

    #[test]
    fn manifest_matches_sha256sum_format() {
        let text = manifest(&sample());
        let first = text.lines().next().unwrap();
        assert_eq!(first.len(), 64 + 2 + "report.html".len());
        assert!(first.ends_with("  report.html"));
    }

    #[test]
    fn folder_and_zip_round_trip() {
        for name in ["bundle", "bundle.zip"] {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join(name);
            let hash = write(sample(), &out).unwrap();
            let (verified_hash, problems) = verify(&out).unwrap();
            assert_eq!(hash, verified_hash, "{name}");
            assert!(problems.is_empty(), "{name}: {problems:?}");
        }
    }

    #[test]
    fn tampering_is_named() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("b");
        write(sample(), &out).unwrap();
        std::fs::write(out.join("sql/001.sql"), b"select 2").unwrap();
        std::fs::write(out.join("extra.txt"), b"x").unwrap();
        std::fs::remove_file(out.join("report.html")).unwrap();
        let (_, problems) = verify(&out).unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("`sql/001.sql` has changed")));
        assert!(problems.iter().any(|p| p.contains("`extra.txt` was added")));
        assert!(problems.iter().any(|p| p.contains("`report.html` is listed in the manifest but missing")));
    }

    #[test]
    fn existing_output_is_not_overwritten() {
        let root = tempfile::tempdir().unwrap();
        assert!(write(sample(), root.path()).is_err());
    }
}
