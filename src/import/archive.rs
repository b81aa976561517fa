//! Where the files of an import are, and reading them within the limits that keep memory flat
//! (SPEC §11 "Inputs", "Bad input", "Speed").
//!
//! [`scan`] takes what the athlete gave — a Strava export ZIP, the same export unzipped, a folder
//! of activity files (searched recursively), single `.fit`/`.gpx`/`.tcx` files, each also `.gz` —
//! and lists what is in it without inflating anything: a ZIP's entries come from its central
//! directory, a folder's from its listing. Inside a ZIP or a folder the kind of an entry comes from
//! its name; a single file is recognised by its content, whatever it is called, because uploads
//! arrive under names of the server's choosing. Entries that could hurt are refused while
//! listing: names that climb out of the archive, sizes past [`Limits::max_entry_bytes`],
//! compression past [`Limits::max_ratio`]. Media, planned routes and the CSVs milepost does not
//! read are counted as ignored and never inflated.
//!
//! [`Inventory::read`] then inflates one entry (and its `.gz` layer) from any thread: every call
//! opens its own handle on the file, so a job can hand one entry to each core. Sizes in headers
//! are only claims: every layer is read through a bound that stops at the limit whatever the
//! header said. Nothing is ever written to disk here.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use zip::read::ZipArchiveMetadata;
use zip::{CompressionMethod, ZipArchive, ZipReadOptions};

use super::Refusal;

/// `IMPORT_MAX_ENTRY_BYTES`'s default: 512 MiB.
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;
/// The compression ratio past which an entry is taken for a bomb.
pub const DEFAULT_MAX_RATIO: u64 = 100;

/// Entries that inflate to no more than this are not held to the ratio: at this size the ratio
/// says nothing about memory, and tiny files of repeated bytes compress far past 100:1.
const RATIO_FLOOR: u64 = 64 * 1024;
/// Enough of a file to see past an XML declaration, a BOM and a comment to the root element.
const SNIFF_BYTES: u64 = 4096;
/// The buffer a read starts with; a larger entry grows it as it arrives, so a header that
/// claims much cannot make milepost reserve much.
const INITIAL_CAPACITY: u64 = 1024 * 1024;
const COPY_BUFFER: usize = 64 * 1024;

/// How large an entry may be once inflated, and how far it may have been compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `IMPORT_MAX_ENTRY_BYTES`: the most bytes one entry may inflate to.
    pub max_entry_bytes: u64,
    /// The most bytes one compressed byte may inflate to.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            max_ratio: DEFAULT_MAX_RATIO,
        }
    }
}

impl Limits {
    /// The bound on what `compressed` bytes may inflate to (`None`: not compressed at all).
    fn ceiling(self, compressed: Option<u64>) -> Ceiling {
        let whole = Ceiling {
            bytes: self.max_entry_bytes,
            ratio: None,
        };
        let Some(compressed) = compressed else {
            return whole;
        };
        let bytes = compressed.saturating_mul(self.max_ratio).max(RATIO_FLOOR);
        if bytes < self.max_entry_bytes {
            Ceiling {
                bytes,
                ratio: Some((self.max_ratio, compressed)),
            }
        } else {
            whole
        }
    }

    /// Why an entry whose headers declare these sizes may not be inflated at all.
    fn refuse_declared(self, compressed: u64, size: u64) -> Option<Refusal> {
        if size > self.max_entry_bytes {
            return Some(Refusal::new(format!(
                "is {size} bytes uncompressed, more than IMPORT_MAX_ENTRY_BYTES ({})",
                self.max_entry_bytes
            )));
        }
        if size > RATIO_FLOOR && size > compressed.saturating_mul(self.max_ratio) {
            return Some(Refusal::new(format!(
                "compresses more than {}:1 ({compressed} bytes inflate to {size})",
                self.max_ratio
            )));
        }
        None
    }
}

/// What an entry holds, as far as the import cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Fit,
    Gpx,
    Tcx,
    /// The export's `activities.csv`, at its root.
    ActivitiesCsv,
    /// The export's `bikes.csv` (gear, SPEC §12).
    BikesCsv,
    /// The export's `shoes.csv` (gear, SPEC §12).
    ShoesCsv,
}

impl Kind {
    /// Whether the entry is one activity's recording rather than one of the export's tables.
    pub fn is_activity_file(self) -> bool {
        matches!(self, Kind::Fit | Kind::Gpx | Kind::Tcx)
    }
}

/// One file the import will read.
#[derive(Debug, Clone)]
pub struct Entry {
    /// How the summary names it: the file's path, or `archive.zip:name/inside.fit.gz`.
    pub display: String,
    /// Its path from the export's root (or the folder's, or the file's name alone), with `/`
    /// separators: what `activities.csv`'s `Filename` column holds, e.g.
    /// `activities/13579246801.fit.gz`.
    pub path: String,
    pub kind: Kind,
    /// Its size before reading, in bytes: the uncompressed size a ZIP declares, or the length of
    /// the file on disk. A `.gz` grows when read; this is its compressed size.
    pub size: u64,
    /// Which input it came from: an index into [`Inventory::sources`].
    pub source: usize,
    gzipped: bool,
    at: At,
}

#[derive(Debug, Clone)]
enum At {
    File(PathBuf),
    Zip {
        archive: usize,
        index: usize,
        compressed: u64,
    },
}

/// One input given to [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as given.
    pub display: String,
    /// Whether it is a Strava export: `activities.csv` at its root (or under the one folder a
    /// re-zipped export wraps everything in).
    pub is_export: bool,
}

/// An entry refused while listing; it is never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEntry {
    pub display: String,
    /// Its path from the root, as in [`Entry::path`]; the raw name when it climbs out.
    pub path: String,
    pub source: usize,
    pub reason: Refusal,
}

/// What [`scan`] found: the entries to read, those refused, and how many were ignored.
/// `Send + Sync`: share it (e.g. in an `Arc`) with the threads that read the entries.
#[derive(Debug)]
pub struct Inventory {
    limits: Limits,
    sources: Vec<Source>,
    entries: Vec<Entry>,
    refused: Vec<RefusedEntry>,
    ignored: usize,
    archives: Vec<Archive>,
    by_path: HashMap<(usize, String), usize>,
}

/// A ZIP's central directory, kept so that any thread can find an entry's data without parsing
/// the directory again.
#[derive(Debug)]
struct Archive {
    path: PathBuf,
    metadata: Arc<ZipArchiveMetadata>,
}

/// Lists the entries of every input without inflating any. Fails, naming the input, when one
/// cannot be read at all: a path that does not exist, or a ZIP whose central directory is
/// corrupt or truncated. Everything smaller is refused entry by entry. Blocking file I/O: run it
/// where blocking is allowed.
pub fn scan(paths: &[PathBuf], limits: Limits) -> Result<Inventory, Refusal> {
    let mut inventory = Inventory {
        limits,
        sources: Vec::new(),
        entries: Vec::new(),
        refused: Vec::new(),
        ignored: 0,
        archives: Vec::new(),
        by_path: HashMap::new(),
    };
    for path in paths {
        inventory.add(path)?;
    }
    Ok(inventory)
}

impl Inventory {
    /// One per path given to [`scan`], in that order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The entries to read, in the order found.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries refused while listing, with their reasons.
    pub fn refused(&self) -> &[RefusedEntry] {
        &self.refused
    }

    /// How many files were passed over: media, planned routes, CSVs milepost does not read.
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// Whether any input is a Strava export.
    pub fn is_export(&self) -> bool {
        self.sources.iter().any(|s| s.is_export)
    }

    /// The entry of `source` at `path` (as in `activities.csv`'s `Filename` column).
    pub fn find(&self, source: usize, path: &str) -> Option<&Entry> {
        let at = self.by_path.get(&(source, path.to_owned()))?;
        self.entries.get(*at)
    }

    /// The entry's bytes, inflated (its `.gz` layer too), or why they cannot be had. Callable
    /// from many threads at once.
    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, Refusal> {
        let capacity = entry
            .size
            .min(INITIAL_CAPACITY)
            .min(self.limits.max_entry_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        self.read_into(entry, &mut bytes)?;
        Ok(bytes)
    }

    /// Streams the entry's inflated bytes into `out`, returning how many there were. Memory stays
    /// at one buffer whatever the entry's size; an entry past the limits is refused as soon as
    /// the first byte too many arrives, after `out` has seen up to the limit.
    pub fn read_into(&self, entry: &Entry, out: &mut dyn Write) -> Result<u64, Refusal> {
        let limits = self.limits;
        match &entry.at {
            At::File(path) => {
                let file = File::open(path).map_err(|e| unopenable(&e))?;
                let stored = file.metadata().map_or(entry.size, |m| m.len());
                if entry.gzipped {
                    let file = Bounded::new(file, limits.ceiling(None));
                    copy(
                        Bounded::new(MultiGzDecoder::new(file), limits.ceiling(Some(stored))),
                        out,
                    )
                } else {
                    copy(Bounded::new(file, limits.ceiling(None)), out)
                }
            }
            At::Zip {
                archive,
                index,
                compressed,
            } => {
                let archive = self
                    .archives
                    .get(*archive)
                    .ok_or_else(|| Refusal::new("belongs to no archive this import opened"))?;
                let mut file = File::open(&archive.path).map_err(|e| unopenable(&e))?;
                let zipped = archive.metadata.entry(*index).map_err(|e| corrupt(&e))?;
                let inflated = zipped
                    .with_reader(&mut file, ZipReadOptions::new())
                    .map_err(|e| corrupt(&e))?;
                let inflated = Bounded::new(inflated, limits.ceiling(Some(*compressed)));
                if entry.gzipped {
                    copy(
                        // Held to the ratio of what the archive stores: a gzip inside a ZIP
                        // must not multiply the two layers' ratios.
                        Bounded::new(
                            MultiGzDecoder::new(inflated),
                            limits.ceiling(Some(*compressed)),
                        ),
                        out,
                    )
                } else {
                    copy(inflated, out)
                }
            }
        }
    }

    fn add(&mut self, path: &Path) -> Result<(), Refusal> {
        let shown = path.display().to_string();
        let meta = fs::metadata(path).map_err(|e| Refusal::new(format!("{shown}: {e}")))?;
        let source = self.sources.len();
        self.sources.push(Source {
            display: shown.clone(),
            is_export: false,
        });
        if meta.is_dir() {
            return self.add_folder(source, path);
        }
        let head = read_head(path).map_err(|e| Refusal::new(format!("{shown}: {e}")))?;
        let name = path
            .file_name()
            .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
        let refuse = |reason: Refusal| RefusedEntry {
            display: shown.clone(),
            path: name.clone(),
            source,
            reason,
        };
        let (kind, gzipped) = match sniff(&head) {
            Sniffed::Zip => return self.add_zip(source, path, meta.len()),
            Sniffed::Recording(kind) => (kind, false),
            Sniffed::Gzip => match sniff_gzip(path) {
                Ok(kind) => (kind, true),
                Err(reason) => {
                    self.refused.push(refuse(reason));
                    return Ok(());
                }
            },
            Sniffed::Unknown => {
                let reason = Refusal::new("is not a ZIP, FIT, GPX, TCX or gzip file");
                self.refused.push(refuse(reason));
                return Ok(());
            }
        };
        if let Some(reason) = self.refuse_file_size(meta.len()) {
            self.refused.push(refuse(reason));
            return Ok(());
        }
        self.push(Entry {
            display: shown.clone(),
            path: name.clone(),
            kind,
            size: meta.len(),
            source,
            gzipped,
            at: At::File(path.to_path_buf()),
        });
        Ok(())
    }

    fn add_folder(&mut self, source: usize, root: &Path) -> Result<(), Refusal> {
        let mut found = Vec::new();
        let mut failures = Vec::new();
        walk(root, &mut found, &mut failures)
            .map_err(|e| Refusal::new(format!("{}: cannot be listed: {e}", root.display())))?;
        for (path, error) in failures {
            self.refused.push(RefusedEntry {
                display: path.display().to_string(),
                path: path.to_string_lossy().into_owned(),
                source,
                reason: Refusal::new(format!("cannot be listed: {error}")),
            });
        }
        let root_prefix = export_root(found.iter().map(|f| f.name.as_str()));
        if let Some(source) = self.sources.get_mut(source) {
            source.is_export = root_prefix.is_some();
        }
        for file in found {
            let (path, kind) = classify(&file.name, root_prefix.as_deref());
            let Some((kind, gzipped)) = kind else {
                self.ignored += 1;
                continue;
            };
            let display = file.path.display().to_string();
            if let Some(reason) = self.refuse_file_size(file.size) {
                self.refused.push(RefusedEntry {
                    display,
                    path,
                    source,
                    reason,
                });
                continue;
            }
            self.push(Entry {
                display,
                path,
                kind,
                size: file.size,
                source,
                gzipped,
                at: At::File(file.path),
            });
        }
        Ok(())
    }

    fn add_zip(&mut self, source: usize, path: &Path, length: u64) -> Result<(), Refusal> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| Refusal::new(format!("{shown}: {e}")))?;
        let zip = ZipArchive::new(file)
            .map_err(|e| Refusal::new(format!("{shown}: not a readable ZIP: {e}")))?;
        let metadata = zip.metadata();
        let archive = self.archives.len();
        self.archives.push(Archive {
            path: path.to_path_buf(),
            metadata: Arc::clone(&metadata),
        });

        // Names first, so that the export's root is known before any entry is classified.
        let mut named = Vec::new();
        for index in 0..metadata.len() {
            let Ok(entry) = metadata.entry(index) else {
                continue;
            };
            let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
            let display = format!("{shown}:{raw}");
            match safe_name(&raw) {
                None => self.refused.push(RefusedEntry {
                    display,
                    path: raw,
                    source,
                    reason: Refusal::new("its name climbs out of the archive"),
                }),
                Some(name) if name.is_empty() || raw.ends_with(['/', '\\']) => {}
                Some(name) => named.push((index, name, display)),
            }
        }
        let root_prefix = export_root(named.iter().map(|(_, name, _)| name.as_str()));
        if let Some(source) = self.sources.get_mut(source) {
            source.is_export = root_prefix.is_some();
        }

        for (index, name, display) in named {
            let (path, kind) = classify(&name, root_prefix.as_deref());
            let Some((kind, gzipped)) = kind else {
                self.ignored += 1;
                continue;
            };
            let Ok(entry) = metadata.entry(index) else {
                continue;
            };
            let compressed = entry.compressed_size();
            let size = entry.size();
            let method = entry.compression();
            let refusal = if entry.encrypted() {
                Some(Refusal::new("is encrypted"))
            } else if entry.is_symlink() {
                Some(Refusal::new("is a symbolic link"))
            } else if !matches!(
                method,
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                Some(Refusal::new(format!(
                    "is compressed with {method:?}, which milepost does not read"
                )))
            } else if entry.header_start().saturating_add(compressed) > length {
                Some(Refusal::new("lies past the end of the archive (truncated)"))
            } else {
                self.limits.refuse_declared(compressed, size)
            };
            if let Some(reason) = refusal {
                self.refused.push(RefusedEntry {
                    display,
                    path,
                    source,
                    reason,
                });
                continue;
            }
            self.push(Entry {
                display,
                path,
                kind,
                size,
                source,
                gzipped,
                at: At::Zip {
                    archive,
                    index,
                    compressed,
                },
            });
        }
        Ok(())
    }

    /// A file on disk is either as large as it will be, or (`.gz`) will only grow.
    fn refuse_file_size(&self, size: u64) -> Option<Refusal> {
        (size > self.limits.max_entry_bytes).then(|| {
            Refusal::new(format!(
                "is {size} bytes, more than IMPORT_MAX_ENTRY_BYTES ({})",
                self.limits.max_entry_bytes
            ))
        })
    }

    fn push(&mut self, entry: Entry) {
        self.by_path
            .entry((entry.source, entry.path.clone()))
            .or_insert(self.entries.len());
        self.entries.push(entry);
    }
}

/// An entry's name with `/` separators and without empty or `.` parts, or `None` when it climbs
/// out: absolute, a drive letter, or any `..` part. Backslashes count as separators because
/// archives made on Windows use them, and `..\..\x` climbs there as surely as `../../x`.
fn safe_name(raw: &str) -> Option<String> {
    let unified = raw.replace('\\', "/");
    if unified.starts_with('/') {
        return None;
    }
    let mut chars = unified.chars();
    if let (Some(drive), Some(':')) = (chars.next(), chars.next())
        && drive.is_ascii_alphabetic()
    {
        return None;
    }
    let mut parts = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// Where the export's root is among these names: `""` when `activities.csv` is at the top, or
/// `"folder/"` when one folder holds it (an export unzipped and zipped again); `None` when the
/// names are no export.
fn export_root<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut wrapped = Vec::new();
    for name in names {
        if name.eq_ignore_ascii_case("activities.csv") {
            return Some(String::new());
        }
        if let Some((folder, file)) = name.split_once('/')
            && file.eq_ignore_ascii_case("activities.csv")
            && folder != "__MACOSX"
        {
            wrapped.push(folder);
        }
    }
    match wrapped.as_slice() {
        [folder] => Some(format!("{folder}/")),
        _ => None,
    }
}

/// The path from the export's root (when the name lies under it) and, unless the entry is to be
/// ignored, its kind and whether it is gzipped.
fn classify(name: &str, root: Option<&str>) -> (String, Option<(Kind, bool)>) {
    let (path, in_export) = match root.and_then(|r| name.strip_prefix(r)) {
        Some(rest) => (rest.to_owned(), true),
        None => (name.to_owned(), false),
    };
    let file = path.rsplit('/').next().unwrap_or(&path);
    // macOS puts resource forks beside every file it zips; they carry the same names.
    if file.starts_with("._") || path.split('/').any(|p| p == "__MACOSX") {
        return (path, None);
    }
    let lower = file.to_ascii_lowercase();
    let (stem, gzipped) = match lower.strip_suffix(".gz") {
        Some(stem) => (stem, true),
        None => (lower.as_str(), false),
    };
    let at_root = !path.contains('/');
    let kind = match stem {
        "activities.csv" if in_export && at_root && !gzipped => Some(Kind::ActivitiesCsv),
        "bikes.csv" if in_export && at_root && !gzipped => Some(Kind::BikesCsv),
        "shoes.csv" if in_export && at_root && !gzipped => Some(Kind::ShoesCsv),
        // Planned routes: GPX without timestamps, not activities.
        _ if in_export && path.starts_with("routes/") => None,
        _ if stem.ends_with(".fit") => Some(Kind::Fit),
        _ if stem.ends_with(".gpx") => Some(Kind::Gpx),
        _ if stem.ends_with(".tcx") => Some(Kind::Tcx),
        _ => None,
    };
    (path, kind.map(|k| (k, gzipped)))
}

struct Found {
    /// From the folder given, with `/` separators.
    name: String,
    path: PathBuf,
    size: u64,
}

/// Every file under `root`: each folder's files in name order, then its folders. Links to files are followed; links to folders are
/// not, so a link back up cannot make the walk endless. A folder that cannot be listed is
/// reported and skipped, unless it is `root` itself.
fn walk(
    root: &Path,
    found: &mut Vec<Found>,
    failures: &mut Vec<(PathBuf, io::Error)>,
) -> io::Result<()> {
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let listing = match fs::read_dir(&folder) {
            Ok(listing) => listing,
            Err(e) if folder == root => return Err(e),
            Err(e) => {
                failures.push((folder, e));
                continue;
            }
        };
        let mut children: Vec<_> = listing.filter_map(Result::ok).collect();
        children.sort_by_key(|c| c.file_name());
        let mut subfolders = Vec::new();
        for child in children {
            let path = child.path();
            let name = format!("{prefix}{}", child.file_name().to_string_lossy());
            let Ok(kind) = child.file_type() else {
                continue;
            };
            if kind.is_dir() {
                subfolders.push((path, format!("{name}/")));
                continue;
            }
            let meta = if kind.is_symlink() {
                fs::metadata(&path)
            } else {
                child.metadata()
            };
            if let Ok(meta) = meta
                && meta.is_file()
            {
                found.push(Found {
                    name,
                    path,
                    size: meta.len(),
                });
            }
        }
        // Reversed onto the stack so that folders are walked in name order.
        pending.extend(subfolders.into_iter().rev());
    }
    Ok(())
}

enum Sniffed {
    Zip,
    Gzip,
    Recording(Kind),
    Unknown,
}

/// What a file is, from its first bytes.
fn sniff(head: &[u8]) -> Sniffed {
    // An empty archive has no local header, only the end of its central directory.
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Sniffed::Zip;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Gzip;
    }
    if head.get(8..12) == Some(b".FIT") {
        return Sniffed::Recording(Kind::Fit);
    }
    match xml_root(head) {
        Some("gpx") => Sniffed::Recording(Kind::Gpx),
        Some("TrainingCenterDatabase") => Sniffed::Recording(Kind::Tcx),
        _ => Sniffed::Unknown,
    }
}

/// The local name of the first element, past a BOM, whitespace, the XML declaration, comments
/// and a doctype.
fn xml_root(head: &[u8]) -> Option<&str> {
    let mut rest = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    loop {
        rest = rest.trim_ascii_start();
        let close: &[u8] = if rest.starts_with(b"<?") {
            b"?>"
        } else if rest.starts_with(b"<!--") {
            b"-->"
        } else if rest.starts_with(b"<!") {
            b">"
        } else {
            break;
        };
        let end = rest.windows(close.len()).position(|w| w == close)?;
        rest = rest.get(end + close.len()..)?;
    }
    let rest = rest.strip_prefix(b"<")?;
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
        .unwrap_or(rest.len());
    let name = std::str::from_utf8(rest.get(..end)?).ok()?;
    Some(name.rsplit(':').next().unwrap_or(name))
}

fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    File::open(path)?.take(SNIFF_BYTES).read_to_end(&mut head)?;
    Ok(head)
}

/// The kind of file a `.gz` holds, from the first bytes it inflates to.
fn sniff_gzip(path: &Path) -> Result<Kind, Refusal> {
    let file = File::open(path).map_err(|e| unopenable(&e))?;
    let mut head = Vec::new();
    let read = MultiGzDecoder::new(file)
        .take(SNIFF_BYTES)
        .read_to_end(&mut head);
    if let (Err(e), true) = (read, head.is_empty()) {
        return Err(Refusal::new(format!("is a corrupt gzip file: {e}")));
    }
    match sniff(&head) {
        Sniffed::Recording(kind) => Ok(kind),
        _ => Err(Refusal::new("is a gzip file that holds no FIT, GPX or TCX")),
    }
}

/// How far one layer of an entry may inflate, and why.
#[derive(Debug, Clone, Copy)]
struct Ceiling {
    bytes: u64,
    /// `(ratio, compressed bytes)` when the ratio, not the entry limit, sets the bound.
    ratio: Option<(u64, u64)>,
}

/// The error a [`Bounded`] reader raises; found again by type among the I/O errors that pass
/// through the decompressors.
#[derive(Debug)]
struct Overflow(Ceiling);

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.ratio {
            Some((ratio, compressed)) => write!(
                f,
                "inflates more than {ratio}:1 (past {} bytes from {compressed})",
                self.0.bytes
            ),
            None => write!(
                f,
                "inflates past IMPORT_MAX_ENTRY_BYTES ({} bytes)",
                self.0.bytes
            ),
        }
    }
}

impl std::error::Error for Overflow {}

/// A reader that fails once more than its ceiling has passed, whatever the headers promised.
struct Bounded<R> {
    inner: R,
    left: u64,
    ceiling: Ceiling,
}

impl<R: Read> Bounded<R> {
    fn new(inner: R, ceiling: Ceiling) -> Self {
        Self {
            inner,
            left: ceiling.bytes,
            ceiling,
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the ceiling is asked for, as `Read::take(limit + 1)` would, so that a
        // stream ending exactly at the ceiling is told from one that goes on.
        let want = usize::try_from(self.left.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let got = self.inner.read(&mut buf[..want])?;
        let got_bytes = u64::try_from(got).unwrap_or(u64::MAX);
        if got_bytes > self.left {
            return Err(io::Error::other(Overflow(self.ceiling)));
        }
        self.left -= got_bytes;
        Ok(got)
    }
}

fn copy(mut reader: impl Read, out: &mut dyn Write) -> Result<u64, Refusal> {
    let mut buffer = vec![0; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let got = match reader.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(refusal_of(&e)),
        };
        out.write_all(&buffer[..got])
            .map_err(|e| Refusal::new(format!("could not be passed on: {e}")))?;
        total = total.saturating_add(u64::try_from(got).unwrap_or(u64::MAX));
    }
}

fn refusal_of(error: &io::Error) -> Refusal {
    match error.get_ref().and_then(|e| e.downcast_ref::<Overflow>()) {
        Some(overflow) => Refusal::new(overflow.to_string()),
        None => corrupt(error),
    }
}

fn corrupt(error: &dyn fmt::Display) -> Refusal {
    Refusal::new(format!("is corrupt: {error}"))
}

fn unopenable(error: &io::Error) -> Refusal {
    Refusal::new(format!("could not be opened: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Cursor;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use zip::write::SimpleFileOptions;

    /// A folder of its own under the system's temporary folder, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "milepost-archive-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const FIT: &[u8] = b"\x0e\x10\x00\x00\x00\x00\x00\x00.FIT\x00\x00 then records";
    const GPX: &[u8] = b"<?xml version=\"1.0\"?>\n<gpx version=\"1.1\"><trk/></gpx>";
    const TCX: &[u8] = b"\n   <?xml version=\"1.0\"?><TrainingCenterDatabase xmlns=\"x\"/>";

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in files {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn export_zip() -> Vec<u8> {
        let gzipped_fit = gz(FIT);
        let gzipped_tcx = gz(TCX);
        zip_of(&[
            (
                "activities.csv",
                b"Activity ID,Filename\n1,activities/1.fit.gz\n",
            ),
            ("bikes.csv", b"Bike Name\n"),
            ("shoes.csv", b"Shoe Name\n"),
            ("profile.csv", b"x\n"),
            ("activities/1.fit.gz", &gzipped_fit),
            ("activities/2.gpx", GPX),
            ("activities/3.tcx.gz", &gzipped_tcx),
            ("routes/1.gpx", GPX),
            ("media/photo.jpg", b"\xff\xd8\xff"),
            ("__MACOSX/activities/._2.gpx", b"\x00\x05\x16\x07"),
        ])
    }

    fn one(paths: &[PathBuf]) -> Inventory {
        scan(paths, Limits::default()).unwrap()
    }

    fn kinds(inventory: &Inventory) -> Vec<(&str, Kind)> {
        let entries = inventory.entries();
        entries.iter().map(|e| (e.path.as_str(), e.kind)).collect()
    }

    /// Replaces the uncompressed size both headers of a one-entry ZIP declare.
    fn declare_size(zip: &mut [u8], size: u32) {
        let mut patched = 0;
        for at in 0..zip.len().saturating_sub(4) {
            let field = match &zip[at..at + 4] {
                b"PK\x03\x04" => at + 22,
                b"PK\x01\x02" => at + 24,
                _ => continue,
            };
            zip[field..field + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
        assert_eq!(patched, 2);
    }

    #[test]
    fn an_export_zip_lists_its_recordings_and_tables_and_ignores_the_rest() {
        let scratch = Scratch::new();
        let zip = scratch.write("export_123.zip", &export_zip());

        let inventory = one(std::slice::from_ref(&zip));

        assert!(inventory.is_export());
        assert_eq!(
            kinds(&inventory),
            [
                ("activities.csv", Kind::ActivitiesCsv),
                ("bikes.csv", Kind::BikesCsv),
                ("shoes.csv", Kind::ShoesCsv),
                ("activities/1.fit.gz", Kind::Fit),
                ("activities/2.gpx", Kind::Gpx),
                ("activities/3.tcx.gz", Kind::Tcx),
            ]
        );
        assert_eq!(
            inventory.ignored(),
            4,
            "profile.csv, the route, media, the fork"
        );
        assert!(inventory.refused().is_empty());
        let fit = inventory.find(0, "activities/1.fit.gz").unwrap();
        assert_eq!(
            fit.display,
            format!("{}:activities/1.fit.gz", zip.display())
        );
        assert_eq!(inventory.read(fit).unwrap(), FIT);
        let tcx = inventory.find(0, "activities/3.tcx.gz").unwrap();
        assert_eq!(inventory.read(tcx).unwrap(), TCX);
    }

    #[test]
    fn entries_are_read_from_many_threads_at_once() {
        let scratch = Scratch::new();
        let zip = scratch.write("export.zip", &export_zip());
        let inventory = Arc::new(one(&[zip]));

        let workers: Vec<_> = (0..4)
            .map(|_| {
                let inventory = Arc::clone(&inventory);
                std::thread::spawn(move || {
                    inventory
                        .entries()
                        .iter()
                        .map(|e| inventory.read(e).map(|b| b.len()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();

        for worker in workers {
            assert_eq!(worker.join().unwrap().unwrap().len(), 6);
        }
    }

    #[test]
    fn an_export_zipped_again_inside_a_folder_is_still_an_export() {
        let scratch = Scratch::new();
        let zip = scratch.write(
            "again.zip",
            &zip_of(&[
                ("export_9/activities.csv", b"x\n"),
                ("export_9/activities/sub/1.fit", FIT),
                ("export_9/routes/1.gpx", GPX),
            ]),
        );

        let inventory = one(&[zip]);

        assert!(inventory.is_export());
        assert_eq!(
            kinds(&inventory),
            [
                ("activities.csv", Kind::ActivitiesCsv),
                ("activities/sub/1.fit", Kind::Fit)
            ]
        );
    }

    #[test]
    fn an_unzipped_export_and_a_nested_folder_are_walked() {
        let scratch = Scratch::new();
        scratch.write("export/activities.csv", b"x\n");
        scratch.write("export/activities/1.fit.gz", &gz(FIT));
        scratch.write("export/routes/r.gpx", GPX);
        scratch.write("watch/2024/05/run.FIT", FIT);
        scratch.write("watch/2024/ride.gpx", GPX);
        scratch.write("watch/notes.txt", b"x");
        scratch.write("watch/routes/planned.gpx", GPX);

        let inventory = one(&[scratch.0.join("export"), scratch.0.join("watch")]);

        assert_eq!(
            inventory
                .sources()
                .iter()
                .map(|s| s.is_export)
                .collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(
            kinds(&inventory),
            [
                ("activities.csv", Kind::ActivitiesCsv),
                ("activities/1.fit.gz", Kind::Fit),
                ("2024/ride.gpx", Kind::Gpx),
                ("2024/05/run.FIT", Kind::Fit),
                // Outside an export, a folder called routes is the athlete's own.
                ("routes/planned.gpx", Kind::Gpx),
            ]
        );
        assert_eq!(inventory.ignored(), 2);
        let fit = inventory.find(0, "activities/1.fit.gz").unwrap();
        assert_eq!(inventory.read(fit).unwrap(), FIT);
        assert_eq!(inventory.entries()[2].source, 1);
    }

    #[test]
    fn names_that_climb_out_are_refused_and_never_read() {
        let scratch = Scratch::new();
        let zip = scratch.write(
            "slip.zip",
            &zip_of(&[
                ("../../evil.fit", FIT),
                ("activities/../../evil.gpx", GPX),
                ("..\\..\\evil.tcx", TCX),
                ("/etc/evil.fit", FIT),
                ("C:\\Windows\\evil.fit", FIT),
                ("ok.fit", FIT),
            ]),
        );

        let inventory = one(&[zip]);

        assert_eq!(kinds(&inventory), [("ok.fit", Kind::Fit)]);
        let refused: Vec<_> = inventory
            .refused()
            .iter()
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(
            refused,
            [
                "../../evil.fit",
                "activities/../../evil.gpx",
                "..\\..\\evil.tcx",
                "/etc/evil.fit",
                "C:\\Windows\\evil.fit"
            ]
        );
        assert!(
            inventory
                .refused()
                .iter()
                .all(|r| r.reason.0.contains("climbs out"))
        );
    }

    #[test]
    fn names_are_made_safe_without_losing_their_place() {
        assert_eq!(safe_name("a/./b//c.fit").as_deref(), Some("a/b/c.fit"));
        assert_eq!(safe_name("a\\b.fit").as_deref(), Some("a/b.fit"));
        assert_eq!(safe_name("a..b/c..fit").as_deref(), Some("a..b/c..fit"));
        assert_eq!(safe_name("\\\\server\\share\\x.fit"), None);
        assert_eq!(safe_name("d:x.fit"), None);
    }

    #[test]
    fn an_entry_larger_than_the_limit_is_refused_before_it_is_inflated() {
        let scratch = Scratch::new();
        let noise: Vec<u8> = (0..2_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let zip = scratch.write(
            "big.zip",
            &zip_of(&[("big.gpx", &noise), ("small.fit", FIT)]),
        );
        let limits = Limits {
            max_entry_bytes: 1_000_000,
            ..Limits::default()
        };

        let inventory = scan(&[zip], limits).unwrap();

        assert_eq!(kinds(&inventory), [("small.fit", Kind::Fit)]);
        let reason = &inventory.refused()[0].reason.0;
        assert!(reason.contains("IMPORT_MAX_ENTRY_BYTES"), "{reason}");
    }

    #[test]
    fn a_bomb_is_refused_by_its_declared_ratio_before_it_is_inflated() {
        let scratch = Scratch::new();
        let path = scratch.0.join("bomb.zip");
        let mut writer = zip::ZipWriter::new(File::create(&path).unwrap());
        writer
            .start_file("activities/1.gpx", SimpleFileOptions::default())
            .unwrap();
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..50 {
            writer.write_all(&zeros).unwrap();
        }
        writer.finish().unwrap();

        let inventory = one(&[path]);

        assert!(inventory.entries().is_empty());
        let reason = &inventory.refused()[0].reason.0;
        assert!(reason.contains("more than 100:1"), "{reason}");
    }

    #[test]
    fn a_header_that_lies_about_the_size_is_stopped_at_the_limit() {
        let scratch = Scratch::new();
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let mut zip = zip_of(&[("1.fit", &zeros)]);
        declare_size(&mut zip, 100_000);
        let path = scratch.write("liar.zip", &zip);
        let inventory = one(&[path]);
        let entry = &inventory.entries()[0];
        assert_eq!(entry.size, 100_000);

        let mut seen = Counted(0);
        let result = inventory.read_into(entry, &mut seen);

        let reason = result.unwrap_err().0;
        assert!(reason.contains("corrupt"), "{reason}");
        assert!(seen.0 <= 100_000, "{} bytes passed", seen.0);
    }

    #[test]
    fn the_bound_stops_a_stream_at_its_ceiling_whatever_it_claims() {
        let ceiling = Limits {
            max_entry_bytes: 1000,
            max_ratio: 100,
        }
        .ceiling(None);
        let mut out = Vec::new();

        let exact = copy(Bounded::new(&[7u8; 1000][..], ceiling), &mut out);
        let over = copy(Bounded::new(io::repeat(0), ceiling), &mut io::sink());

        assert_eq!(exact, Ok(1000));
        let reason = over.unwrap_err().0;
        assert!(
            reason.contains("IMPORT_MAX_ENTRY_BYTES (1000 bytes)"),
            "{reason}"
        );
    }

    #[test]
    fn a_gzip_bomb_is_stopped_by_the_ratio_while_streaming() {
        let scratch = Scratch::new();
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(GPX).unwrap();
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..20 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let path = scratch.write("upload", &bomb);
        let inventory = one(std::slice::from_ref(&path));
        let entry = &inventory.entries()[0];
        assert_eq!(entry.kind, Kind::Gpx);

        let mut seen = Counted(0);
        let reason = inventory.read_into(entry, &mut seen).unwrap_err().0;

        assert!(reason.contains("more than 100:1"), "{reason}");
        assert!(seen.0 <= bomb.len() as u64 * 100);
    }

    #[test]
    fn a_truncated_zip_is_refused_with_its_reason() {
        let scratch = Scratch::new();
        let whole = export_zip();
        let path = scratch.write("cut.zip", &whole[..whole.len() / 2]);

        let refusal = scan(&[path], Limits::default()).unwrap_err();

        assert!(refusal.0.contains("not a readable ZIP"), "{refusal}");
    }

    #[test]
    fn a_corrupt_entry_refuses_that_entry_only() {
        let scratch = Scratch::new();
        let noise: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut zip = zip_of(&[("1.gpx", &noise), ("2.gpx", GPX)]);
        let data = ZipArchive::new(Cursor::new(&zip))
            .unwrap()
            .by_index(0)
            .unwrap()
            .data_start()
            .unwrap() as usize;
        for byte in &mut zip[data + 16..data + 80] {
            *byte ^= 0x5a;
        }
        let path = scratch.write("damaged.zip", &zip);
        let inventory = one(&[path]);

        let first = inventory.read(&inventory.entries()[0]);
        let second = inventory.read(&inventory.entries()[1]);

        assert!(first.unwrap_err().0.contains("corrupt"));
        assert_eq!(second.unwrap(), GPX);
    }

    #[test]
    fn a_name_that_is_not_utf8_is_read_lossily() {
        let scratch = Scratch::new();
        let mut zip = zip_of(&[("activities/caf#.gpx", GPX)]);
        for at in 0..zip.len() - 4 {
            if &zip[at..at + 5] == b"caf#." {
                zip[at + 3] = 0xE9;
            }
        }
        let path = scratch.write("latin1.zip", &zip);

        let inventory = one(&[path]);

        let entry = &inventory.entries()[0];
        assert_eq!(entry.path, "activities/caf\u{FFFD}.gpx");
        assert_eq!(inventory.read(entry).unwrap(), GPX);
    }

    #[test]
    fn single_files_are_known_by_their_content_whatever_their_names() {
        let scratch = Scratch::new();
        let paths = [
            scratch.write("upload-1", FIT),
            scratch.write("upload-2.bin", &gz(GPX)),
            scratch.write("ride.gpx", TCX),
            scratch.write("run.fit.gz", &gz(FIT)),
            scratch.write("bom.xml", b"\xEF\xBB\xBF<!-- hi --><gpx:gpx/>"),
            scratch.write("export", &export_zip()),
            scratch.write("notes.fit", b"just words"),
            scratch.write("gz-of-words.gz", &gz(b"just words")),
            scratch.write("broken.gz", b"\x1f\x8b\x08\x00garbage"),
        ];

        let inventory = one(&paths);

        let singles: Vec<_> = inventory
            .entries()
            .iter()
            .filter(|e| e.source < 5)
            .map(|e| (e.path.as_str(), e.kind))
            .collect();
        assert_eq!(
            singles,
            [
                ("upload-1", Kind::Fit),
                ("upload-2.bin", Kind::Gpx),
                ("ride.gpx", Kind::Tcx),
                ("run.fit.gz", Kind::Fit),
                ("bom.xml", Kind::Gpx),
            ]
        );
        assert!(inventory.sources()[5].is_export);
        let refused: Vec<_> = inventory
            .refused()
            .iter()
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(refused, ["notes.fit", "gz-of-words.gz", "broken.gz"]);
        let gpx = &inventory.entries()[1];
        assert_eq!(inventory.read(gpx).unwrap(), GPX);
    }

    #[test]
    fn a_missing_path_fails_the_scan_naming_it() {
        let missing = std::env::temp_dir().join("milepost-archive-no-such-file.zip");

        let refusal = scan(&[missing], Limits::default()).unwrap_err();

        assert!(refusal.0.contains("milepost-archive-no-such-file.zip"));
    }

    #[test]
    fn the_inventory_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Inventory>();
    }

    /// Counts what it is given and keeps none of it.
    struct Counted(u64);

    impl Write for Counted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
