//! Evidence bundles: a folder or zip of the report, the findings, the case work, the audit
//! trail, the sources and the SQL, with a SHA-256 manifest.
//!
//! `MANIFEST.sha256` has one line per file in the format of `sha256sum`, so `sha256sum -c
//! MANIFEST.sha256` checks a folder bundle without blobtrail. `verify` recomputes every hash
//! and also reports files that were added or removed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "MANIFEST.sha256";


fn sha256(bytes: &[u8]) -> String {
    crate::sql::hex(&Sha256::digest(bytes))
}

/// Builds the manifest text from each file's SHA-256, by name.
fn manifest_of(hashes: &BTreeMap<String, String>) -> String {
    hashes.iter().map(|(name, hash)| format!("{hash}  {name}\n")).collect()
}

/// Writes a bundle one file at a time, each hashed as it is written, so that no file has to
/// be held in memory whole. The bundle is written under a `.partial` name and renamed when
/// the manifest is written, so a failed bundle never looks finished.
pub struct BundleWriter {
    out: PathBuf,
    partial: PathBuf,
    zip: Option<zip::ZipWriter<File>>,
    hashes: BTreeMap<String, String>,
}

impl BundleWriter {
    /// Starts a bundle at `out`, a folder, or a zip file when it ends in `.zip`. Fails if `out`
    /// or its partial name exists.
    pub fn create(out: &Path) -> Result<Self> {
        if out.exists() {
            bail!("`{}` already exists; choose a new path so that no earlier bundle is overwritten", out.display());
        }
        let partial = crate::output::partial_path(out)?;
        let zip = if is_zip(out) {
            let file = File::create_new(&partial).with_context(|| format!("cannot create `{}`", partial.display()))?;
            Some(zip::ZipWriter::new(file))
        } else {
            std::fs::create_dir(&partial).with_context(|| format!("cannot create `{}`", partial.display()))?;
            None
        };
        Ok(BundleWriter { out: out.to_path_buf(), partial, zip, hashes: BTreeMap::new() })
    }

    /// Adds a file with the given bytes.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.add_with(name, |out| Ok(out.write_all(bytes)?))
    }

    /// Adds a file whose bytes `write` writes.
    pub fn add_with(&mut self, name: &str, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
        let mut hashing = match &mut self.zip {
            Some(zip) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .large_file(true);
                zip.start_file(name, options)?;
                HashingWriter::new(Box::new(zip as &mut dyn Write))
            }
            None => {
                let path = self.partial.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
                }
                let file = File::create(&path).with_context(|| format!("cannot write `{}`", path.display()))?;
                HashingWriter::new(Box::new(BufWriter::with_capacity(1 << 20, file)))
            }
        };
        write(&mut hashing)?;
        hashing.inner.flush()?;
        self.hashes.insert(name.to_string(), crate::sql::hex(&hashing.hasher.finalize()));
        Ok(())
    }

    /// Returns the number of files added so far.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Writes the manifest, moves the bundle to its name and returns the manifest's SHA-256.
    pub fn finish(mut self) -> Result<String> {
        let manifest = manifest_of(&self.hashes);
        let written = self.add(MANIFEST, manifest.as_bytes()).and_then(|()| match self.zip.take() {
            Some(zip) => Ok(zip.finish().map(drop)?),
            None => Ok(()),
        });
        if let Err(err) = written {
            self.abandon();
            return Err(err);
        }
        std::fs::rename(&self.partial, &self.out)
            .with_context(|| format!("cannot move the bundle into `{}`", self.out.display()))?;
        Ok(sha256(manifest.as_bytes()))
    }

    /// Removes what was written of a bundle that failed.
    pub fn abandon(mut self) {
        drop(self.zip.take());
        let _ = if self.partial.is_dir() { std::fs::remove_dir_all(&self.partial) } else { std::fs::remove_file(&self.partial) };
    }
}

/// Passes bytes through to `inner` and hashes them on the way.
struct HashingWriter<'w> {
    inner: Box<dyn Write + 'w>,
    hasher: Sha256,
}

impl<'w> HashingWriter<'w> {
    fn new(inner: Box<dyn Write + 'w>) -> Self {
        HashingWriter { inner, hasher: Sha256::new() }
    }
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn is_zip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Each file of a bundle as read back: its SHA-256 by name, and the manifest, which is small,
/// whole.
struct ReadBack {
    hashes: BTreeMap<String, String>,
    manifest: Option<Vec<u8>>,
    /// Whether the zip's directory lists more entries than it has names: members that share a
    /// name, of which the zip crate reads one.
    shadowed_members: bool,
    /// Problems with entries that are not plain files: symbolic links, and folders that no
    /// file of the manifest is in (checked in `verify`, which reads the manifest).
    links: Vec<String>,
    folders: Vec<String>,
    /// Entries of a bundle folder that are neither files, folders nor links: named pipes,
    /// sockets and devices, which are listed, never opened (a pipe would block the read).
    special: Vec<String>,
    /// Bytes of a zip bundle outside its entries and directory, which blobtrail never writes.
    stray_bytes: Vec<String>,
}

/// Reads and hashes every file of a bundle folder or zip.
fn hash_all(path: &Path) -> Result<ReadBack> {
    let mut hashes = BTreeMap::new();
    let mut manifest = None;
    let mut shadowed_members = false;
    let mut links = Vec::new();
    let mut folders = Vec::new();
    let mut special = Vec::new();
    let mut stray_bytes = Vec::new();
    let mut take = |name: String, reader: &mut dyn Read| -> Result<()> {
        if name == MANIFEST {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes)?;
            manifest = Some(bytes);
        } else {
            let mut hasher = Sha256::new();
            std::io::copy(reader, &mut hasher)?;
            hashes.insert(name, crate::sql::hex(&hasher.finalize()));
        }
        Ok(())
    };
    if path.is_dir() {
        let mut names = Vec::new();
        collect_folder(path, path, &mut names, &mut links, &mut folders, &mut special)?;
        for (name, file) in names {
            let mut reader = File::open(&file).with_context(|| format!("cannot read `{}`", file.display()))?;
            take(name, &mut reader)?;
        }
    } else if path.is_file() {
        let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
        let mut archive = zip::ZipArchive::new(file).with_context(|| format!("`{}` is not a readable zip file", path.display()))?;
        // Both counts include directory entries, which zip tools write for each folder.
        shadowed_members = crate::import::zip_listed_members(path).is_some_and(|listed| listed != archive.len() as u64);
        stray_bytes = zip_stray_bytes(path, &archive)?;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index)?;
            if entry.is_dir() {
                folders.push(entry.name().trim_end_matches('/').to_string());
                continue;
            }
            if entry.is_symlink() {
                links.push(entry.name().to_string());
                continue;
            }
            let name = entry.name().to_string();
            take(name, &mut entry)?;
        }
    } else {
        bail!("bundle `{}` not found", path.display());
    }
    Ok(ReadBack { hashes, manifest, shadowed_members, links, folders, special, stray_bytes })
}

/// Describes bytes of a zip file that lie outside the archive: before its first entry, as a
/// comment, or after its end record. Readers disagree on such bytes: a streaming reader takes
/// entries from the front, while `unzip` reads the directory at the end.
fn zip_stray_bytes(path: &Path, archive: &zip::ZipArchive<File>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if archive.offset() > 0 {
        problems.push(format!("{} bytes precede the zip's first entry", archive.offset()));
    }
    if !archive.comment().is_empty() {
        problems.push("the zip has a comment, which blobtrail never writes".to_string());
    }
    // The end of central directory record (22 bytes and the comment) closes the file.
    let mut file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let length = file.metadata()?.len();
    let record = 22 + archive.comment().len() as u64;
    let mut signature = [0u8; 4];
    let at_end = length >= record && {
        file.seek(SeekFrom::Start(length - record))?;
        file.read_exact(&mut signature)?;
        signature == *b"PK\x05\x06"
    };
    if !at_end {
        problems.push("bytes follow the zip's end record".to_string());
    }
    Ok(problems)
}

/// Lists the files below `dir` with their names relative to `root`, in forward slashes, and
/// the symbolic links, folders and other entries (pipes, sockets, devices) there, which are
/// not followed or opened.
fn collect_folder(
    root: &Path,
    dir: &Path,
    files: &mut Vec<(String, PathBuf)>,
    links: &mut Vec<String>,
    folders: &mut Vec<String>,
    special: &mut Vec<String>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list `{}`", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            links.push(name);
        } else if kind.is_dir() {
            folders.push(name);
            collect_folder(root, &path, files, links, folders, special)?;
        } else if kind.is_file() {
            files.push((name, path));
        } else {
            special.push(name);
        }
    }
    Ok(())
}

/// Checks a bundle against its manifest. Returns the manifest's hash and one message per
/// changed, added or removed file.
pub fn verify(path: &Path) -> Result<(String, Vec<String>)> {
    let ReadBack { hashes, manifest, shadowed_members, links, folders, special, stray_bytes } = hash_all(path)?;
    let Some(manifest) = manifest else {
        bail!("`{}` has no {MANIFEST}: not a blobtrail bundle, or the manifest was removed", path.display());
    };
    let manifest_hash = sha256(&manifest);
    let text = String::from_utf8(manifest).context("the manifest is not UTF-8 text")?;

    let mut problems: Vec<String> = stray_bytes.into_iter().map(|stray| format!("{stray}: a bundle holds only its entries")).collect();
    if shadowed_members {
        problems.push("the zip has members that share a name: a reader may take another one than the one checked".to_string());
    }
    let mut listed = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let Some((hash, name)) = manifest_line(line) else {
            problems.push(format!("{MANIFEST} line {} is malformed: `{line}`", number + 1));
            continue;
        };
        if name == MANIFEST {
            problems.push(format!("{MANIFEST} line {} lists the manifest itself, which no manifest can hold the hash of", number + 1));
            continue;
        }
        if listed.insert(name.to_string(), hash.to_string()).is_some_and(|earlier| earlier != hash) {
            problems.push(format!("`{name}` is listed twice in the manifest with different hashes"));
        }
    }
    for (name, hash) in &listed {
        match hashes.get(name) {
            None => problems.push(format!("`{name}` is listed in the manifest but missing")),
            Some(actual) if actual != hash => problems.push(format!("`{name}` has changed: its SHA-256 does not match the manifest")),
            Some(_) => {}
        }
    }
    for name in hashes.keys() {
        if !listed.contains_key(name) {
            problems.push(format!("`{name}` was added: it is not in the manifest"));
        }
    }
    for name in links {
        problems.push(format!(
            "`{name}` is a symbolic link, which a bundle never holds: what it points to can change outside the bundle"
        ));
    }
    for name in special {
        problems.push(format!("`{name}` is not a regular file (a named pipe, socket or device), which a bundle never holds"));
    }
    for folder in folders {
        let prefix = format!("{folder}/");
        if !listed.keys().any(|name| name.starts_with(&prefix)) {
            problems.push(format!("the folder `{folder}/` was added: no file of the manifest is in it"));
        }
    }
    Ok((manifest_hash, problems))
}

/// Splits a manifest line in either form `sha256sum` writes: `HASH  NAME` (text mode) or
/// `HASH *NAME` (binary mode). None when the line is neither.
fn manifest_line(line: &str) -> Option<(&str, &str)> {
    let (hash, rest) = line.split_at_checked(64)?;
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let name = rest.strip_prefix("  ").or_else(|| rest.strip_prefix(" *"))?;
    (!name.is_empty()).then_some((hash, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files of a bundle by relative path (forward slashes), sorted.
    type Files = BTreeMap<String, Vec<u8>>;

    /// Builds the manifest text for `files`.
    fn manifest(files: &Files) -> String {
        let hashes = files.iter().map(|(name, bytes)| (name.clone(), sha256(bytes))).collect();
        manifest_of(&hashes)
    }

    /// Writes the bundle to a folder, or to a zip file when `out` ends in `.zip`, and returns the
    /// SHA-256 of the manifest. Fails if `out` exists.
    fn write(files: Files, out: &Path) -> Result<String> {
        let mut writer = BundleWriter::create(out)?;
        for (name, bytes) in &files {
            if let Err(err) = writer.add(name, bytes) {
                writer.abandon();
                return Err(err);
            }
        }
        writer.finish()
    }

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

    /// sha256sum's binary form (`HASH *NAME`) reads like its text form. A line for the manifest
    /// itself, a symbolic link and a folder that no listed file is in are each named.
    #[cfg(unix)]
    #[test]
    fn manifest_forms_links_and_folders() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("bundle");
        write(sample(), &out).unwrap();
        let text = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        std::fs::write(out.join(MANIFEST), text.replace("  report.html", " *report.html")).unwrap();
        assert_eq!(verify(&out).unwrap().1, Vec::<String>::new());
        std::fs::write(out.join(MANIFEST), format!("{text}{}  {MANIFEST}\n", "0".repeat(64))).unwrap();
        std::os::unix::fs::symlink(root.path(), out.join("elsewhere")).unwrap();
        std::fs::create_dir(out.join("empty")).unwrap();
        assert_eq!(verify(&out).unwrap().1, [
            format!("{MANIFEST} line 3 lists the manifest itself, which no manifest can hold the hash of"),
            "`elsewhere` is a symbolic link, which a bundle never holds: what it points to can change outside the bundle".to_string(),
            "the folder `empty/` was added: no file of the manifest is in it".to_string(),
        ]);
    }

    #[test]
    fn existing_output_is_not_overwritten() {
        let root = tempfile::tempdir().unwrap();
        assert!(write(sample(), root.path()).is_err());
    }

    #[test]
    fn failed_bundle_leaves_nothing() {
        for name in ["bundle", "bundle.zip"] {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join(name);
            let mut writer = BundleWriter::create(&out).unwrap();
            writer.add("report.html", b"<html></html>").unwrap();
            let failed = writer.add_with("findings.json", |file| {
                file.write_all(b"[")?;
                anyhow::bail!("the case could not be read")
            });
            assert!(failed.is_err());
            writer.abandon();
            let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
            assert!(left.is_empty(), "{name}: {left:?}");
        }
    }
}
