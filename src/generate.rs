//! Synthetic case generator behind `blobtrail generate`.
//!
//! Writes storage logs and Entra ID sign-in logs in the shapes that Log Analytics exports them:
//! portal CSV for `StorageBlobLogs` and `SigninLogs`, flat JSON lines for the other tables. Beside
//! them, `truth.csv` names the real uploader of every upload in those logs.
//!
//! One scale unit is one simulated day of a tenant with 100 users, starting 2026-03-02 UTC. A day
//! contains background reads, sign-ins and token refreshes, ordinary uploads, and several instances
//! of every case that the upload-to-sign-in correlation must handle (see [`Scenario`]). Each day
//! is generated from its own seed, sorted by time and streamed to the files, so memory keeps one
//! day at a time.
//!
//! The `attributable` column is not declared per scenario: [`is_attributable`] computes it from
//! the rows actually written, with the rule that a correct tool must apply.
//!
//! The module uses only `std`, so it also builds on its own with `rustc --test`.

use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Public interface

/// Settings of one generated case.
pub struct GenerateOptions {
    /// Folder to write into; it is created, and must be empty if it exists.
    pub out: PathBuf,
    /// Number of simulated days, at least 1. Every row count grows linearly with it.
    pub scale: u32,
    /// Seed of the pseudo-random generator: the same (scale, seed, skew) writes the same bytes.
    pub seed: u64,
    /// Route about a third of all sign-ins and uploads through one NAT address.
    pub skew: bool,
}

/// Record counts of the files that [`generate`] wrote.
pub struct GenerateSummary {
    /// Each file written, with its number of records (header excluded).
    pub files: Vec<(PathBuf, u64)>,
    /// Rows of `truth.csv`.
    pub uploads: u64,
    /// Uploads whose `attributable` column is `true`.
    pub attributable: u64,
}

pub const BLOB_LOGS_FILE: &str = "StorageBlobLogs.csv";
pub const FILE_LOGS_FILE: &str = "StorageFileLogs.jsonl";
pub const SIGNIN_LOGS_FILE: &str = "SigninLogs.csv";
pub const NON_INTERACTIVE_FILE: &str = "AADNonInteractiveUserSignInLogs.jsonl";
pub const SERVICE_PRINCIPAL_FILE: &str = "AADServicePrincipalSignInLogs.jsonl";
pub const TRUTH_FILE: &str = "truth.csv";

/// Records written between two calls of the progress callback.
const PROGRESS_EVERY: u64 = 10_000;

/// Writes a synthetic case into `options.out` and calls `progress` with the number of records
/// written so far about every 10,000 records and once at the end.
///
/// Fails with `InvalidInput` when `scale` is 0 and with `AlreadyExists` when the folder already
/// contains files.
pub fn generate(
    options: &GenerateOptions,
    progress: &mut dyn FnMut(u64),
) -> io::Result<GenerateSummary> {
    if options.scale == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid scale 0: the scale must be at least 1",
        ));
    }
    prepare_output_folder(&options.out)?;

    let world = World::new(options.seed, options.skew);
    let mut output = Output::create(&options.out, &world)?;
    let mut carry = Vec::new();
    for index in 0..options.scale {
        let mut day = Day::new(&world, index, options.scale);
        day.generate();
        let batch = day.finish(&carry);
        output.write_day(&world, &batch, progress)?;
        carry = batch.carry;
    }
    output.finish(progress)
}

fn prepare_output_folder(out: &Path) -> io::Result<()> {
    fs::create_dir_all(out).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create output folder `{}`: {error}", out.display()),
        )
    })?;
    if fs::read_dir(out)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("output folder `{}` is not empty: choose a new or empty folder", out.display()),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness and identifiers

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Scrambles a value with the SplitMix64 finaliser, which is a bijection on `u64`.
fn mix64(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 generator: a counter stepped by the golden gamma and scrambled by [`mix64`].
struct Rng {
    state: u64,
}

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// Returns a value in `0..bound` by multiply-shift. The relative bias is at most
    /// `bound / 2^64`, below 2^-24 for the day-long tick ranges used here. A `bound` of 0
    /// returns 0.
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Returns a value in `low..high`, or `low` when the range is empty.
    fn range(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        low + self.below((high - low) as u64) as i64
    }

    fn chance(&mut self, probability: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < probability
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A made-up GUID, printed in the usual 8-4-4-4-12 form with version 4 and the RFC 4122 variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Guid {
    high: u64,
    low: u64,
}

impl Guid {
    /// Derives a GUID from a label. Distinct labels give distinct GUIDs, because `high` is a
    /// bijection of the label and every bit of `high` is printed.
    fn derive(seed: u64, label: u64) -> Guid {
        let high = mix64(label ^ mix64(seed));
        let low = mix64(high ^ GOLDEN_GAMMA);
        Guid { high, low }
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (high, low) = (self.high, self.low);
        write!(
            f,
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:04x}{:08x}",
            high >> 32,
            (high >> 16) & 0xffff,
            low & 0xfff,
            0x8000 | ((low >> 12) & 0x3fff),
            high & 0xffff,
            low >> 32
        )
    }
}

// Label spaces of [`Guid::derive`], kept apart by their top byte.
const LABEL_TENANT: u64 = 1 << 56;
const LABEL_WORKSPACE: u64 = 2 << 56;
const LABEL_SUBSCRIPTION: u64 = 3 << 56;
const LABEL_USER: u64 = 4 << 56;
const LABEL_WORKLOAD_APP: u64 = 5 << 56;
const LABEL_WORKLOAD_OBJECT: u64 = 6 << 56;
const LABEL_DEVICE: u64 = 7 << 56;
const LABEL_ROLE_ASSIGNMENT: u64 = 8 << 56;
const LABEL_ROW: u64 = 0x80 << 56;

/// Appends 64 upper-case hex digits derived from `value`, the shape of the SHA-256 hashes in
/// `AuthenticationHash`.
fn push_hex_digest(out: &mut String, value: u64) {
    let mut state = value;
    for _ in 0..4 {
        state = mix64(state ^ GOLDEN_GAMMA);
        let _ = write!(out, "{state:016X}");
    }
}

// ---------------------------------------------------------------------------------------------
// Time: 100-nanosecond ticks since the Unix epoch, the precision Log Analytics keeps

const TICKS_PER_MICROSECOND: i64 = 10;
const TICKS_PER_MILLISECOND: i64 = 10_000;
const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

/// Start of day 0: 2026-03-02T00:00:00Z, a Monday (day 20514 after 1970-01-01).
const FIRST_DAY: i64 = 20_514 * TICKS_PER_DAY;

/// On day 0 the sign-in exports start at `TimeGenerated` 05:00, so earlier uploads have no
/// sign-in data.
const SIGNIN_EXPORT_START: i64 = 5 * TICKS_PER_HOUR;

/// User sessions end by 23:50, so that their uploads complete before [`UPLOAD_DEADLINE`].
const LAST_UPLOAD_OF_DAY: i64 = TICKS_PER_DAY - 10 * TICKS_PER_MINUTE;

/// Every upload completes before 23:54, so the 5 minutes after it in which a sign-in still
/// counts never reach the next day's rows.
const UPLOAD_DEADLINE: i64 = TICKS_PER_DAY - 6 * TICKS_PER_MINUTE;

fn seconds(count: i64) -> i64 {
    count * TICKS_PER_SECOND
}

fn minutes(count: i64) -> i64 {
    count * TICKS_PER_MINUTE
}

fn hours(count: f64) -> i64 {
    (count * TICKS_PER_HOUR as f64) as i64
}

fn truncate_to(ticks: i64, unit: i64) -> i64 {
    ticks - ticks.rem_euclid(unit)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Ticks after the whole second.
    fraction: i64,
}

fn civil(ticks: i64) -> Civil {
    let (year, month, day) = civil_from_days(ticks.div_euclid(TICKS_PER_DAY));
    let in_day = ticks.rem_euclid(TICKS_PER_DAY);
    let whole_seconds = in_day / TICKS_PER_SECOND;
    Civil {
        year,
        month,
        day,
        hour: (whole_seconds / 3600) as u32,
        minute: (whole_seconds / 60 % 60) as u32,
        second: (whole_seconds % 60) as u32,
        fraction: in_day % TICKS_PER_SECOND,
    }
}

use crate::parse::time::civil_from_days;

/// Appends the en-US display of the Log Analytics portal, such as `3/14/2026, 2:00:30.123 PM`.
/// Milliseconds are truncated, as the portal shows them.
fn push_portal_time(out: &mut String, ticks: i64) {
    let c = civil(ticks);
    let hour12 = match c.hour % 12 {
        0 => 12,
        hour => hour,
    };
    let meridiem = if c.hour < 12 { "AM" } else { "PM" };
    let _ = write!(
        out,
        "{}/{}/{}, {}:{:02}:{:02}.{:03} {}",
        c.month,
        c.day,
        c.year,
        hour12,
        c.minute,
        c.second,
        c.fraction / TICKS_PER_MILLISECOND,
        meridiem
    );
}

/// Appends ISO 8601 UTC with `digits` (1 to 7) fractional digits and then `suffix`, such as
/// `Z` or `+00:00`.
fn push_iso_time(out: &mut String, ticks: i64, digits: u32, suffix: &str) {
    let c = civil(ticks);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:0width$}{}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.fraction / 10_i64.pow(7 - digits),
        suffix,
        width = digits as usize
    );
}

fn date_text(ticks: i64, separator: &str) -> String {
    let c = civil(ticks);
    format!("{:04}{separator}{:02}{separator}{:02}", c.year, c.month, c.day)
}

// ---------------------------------------------------------------------------------------------
// Text encodings

/// Appends one RFC 4180 field, quoted only when it contains a comma, quote or line break.
fn push_csv_field(out: &mut String, value: &str) {
    if !value.contains([',', '"', '\n', '\r']) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for character in value.chars() {
        if character == '"' {
            out.push('"');
        }
        out.push(character);
    }
    out.push('"');
}

/// Appends `text` percent-encoded as UTF-8. `keep` lists the ASCII punctuation left as it is,
/// besides letters, digits and `-._~`.
fn push_percent_encoded(out: &mut String, text: &str, keep: &str) {
    for byte in text.bytes() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || (byte.is_ascii() && keep.as_bytes().contains(&byte));
        if plain {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Characters that storage request URIs keep unencoded in a path: `/` and the sub-delimiters
/// that file names commonly contain, so `+`, `(` and `,` appear literally.
const PATH_KEEP: &str = "/!$'()*+,;=:@";

fn push_base64(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(chunk[0]) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (triple >> (18 - 6 * position)) & 63;
                out.push(ALPHABET[index as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Appends a base64 MD5-shaped value (16 bytes) derived from `value`.
fn push_md5(out: &mut String, value: u64) {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mix64(value).to_be_bytes());
    bytes[8..].copy_from_slice(&mix64(value ^ GOLDEN_GAMMA).to_be_bytes());
    push_base64(out, &bytes);
}

/// Writes an IPv6 address with all eight groups and no zero compression, such as
/// `2001:db8:4:0:0:0:0:1a`, one of the forms sign-in logs use.
fn uncompressed_ipv6(address: Ipv6Addr) -> String {
    let groups: Vec<String> = address.segments().iter().map(|g| format!("{g:x}")).collect();
    groups.join(":")
}

// ---------------------------------------------------------------------------------------------
// Cells: one row function per table feeds a header, a CSV line or a JSON object

/// Receives the cells of one row in physical column order.
trait Cells {
    fn text(&mut self, name: &'static str, value: &str);
    /// Receives a `long`, `int` or `real` column. `None` is an empty cell (CSV) or `null` (JSON).
    fn number(&mut self, name: &'static str, value: Option<u64>);
    fn time(&mut self, name: &'static str, value: Option<i64>);
    fn boolean(&mut self, name: &'static str, value: bool);
}

/// Collects column names; the portal suffixes datetime columns with ` [UTC]`.
struct HeaderCells {
    names: Vec<String>,
}

impl Cells for HeaderCells {
    fn text(&mut self, name: &'static str, _: &str) {
        self.names.push(name.to_string());
    }
    fn number(&mut self, name: &'static str, _: Option<u64>) {
        self.names.push(name.to_string());
    }
    fn time(&mut self, name: &'static str, _: Option<i64>) {
        self.names.push(format!("{name} [UTC]"));
    }
    fn boolean(&mut self, name: &'static str, _: bool) {
        self.names.push(name.to_string());
    }
}

/// Appends one line of a portal "Export to CSV" file, without the line ending.
struct CsvCells<'a> {
    out: &'a mut String,
    started: bool,
}

impl CsvCells<'_> {
    fn separate(&mut self) {
        if self.started {
            self.out.push(',');
        }
        self.started = true;
    }
}

impl Cells for CsvCells<'_> {
    fn text(&mut self, _: &'static str, value: &str) {
        self.separate();
        push_csv_field(self.out, value);
    }
    fn number(&mut self, _: &'static str, value: Option<u64>) {
        self.separate();
        if let Some(value) = value {
            let _ = write!(self.out, "{value}");
        }
    }
    fn time(&mut self, _: &'static str, value: Option<i64>) {
        self.separate();
        if let Some(ticks) = value {
            // The en-US display always contains a comma, so the cell is always quoted.
            self.out.push('"');
            push_portal_time(self.out, ticks);
            self.out.push('"');
        }
    }
    fn boolean(&mut self, _: &'static str, value: bool) {
        self.separate();
        self.out.push_str(if value { "TRUE" } else { "FALSE" });
    }
}

/// Appends one flat JSON object: column name to value, times as ISO 8601 with 7 fractional
/// digits, dynamic columns as JSON text inside a string.
struct JsonCells<'a> {
    out: &'a mut String,
    started: bool,
}

impl JsonCells<'_> {
    fn key(&mut self, name: &str) {
        self.out.push(if self.started { ',' } else { '{' });
        self.started = true;
        crate::json_writer::push_string(self.out, name);
        self.out.push(':');
    }

    fn close(self) {
        if !self.started {
            self.out.push('{');
        }
        self.out.push('}');
    }
}

impl Cells for JsonCells<'_> {
    fn text(&mut self, name: &'static str, value: &str) {
        self.key(name);
        crate::json_writer::push_string(self.out, value);
    }
    fn number(&mut self, name: &'static str, value: Option<u64>) {
        self.key(name);
        match value {
            Some(value) => {
                let _ = write!(self.out, "{value}");
            }
            None => self.out.push_str("null"),
        }
    }
    fn time(&mut self, name: &'static str, value: Option<i64>) {
        self.key(name);
        match value {
            Some(ticks) => {
                self.out.push('"');
                push_iso_time(self.out, ticks, 7, "Z");
                self.out.push('"');
            }
            None => self.out.push_str("null"),
        }
    }
    fn boolean(&mut self, name: &'static str, value: bool) {
        self.key(name);
        self.out.push_str(if value { "true" } else { "false" });
    }
}

// ---------------------------------------------------------------------------------------------
// The simulated tenant

const USER_COUNT: usize = 100;
/// Users `CROWD_START..USER_COUNT` work behind [`BUSY_NAT`] all day.
const CROWD_START: usize = 60;

const FIRST_NAMES: [&str; 20] = [
    "Adele", "Alex", "Bianca", "Carlos", "Dana", "Elena", "Farid", "Grace", "Hiro", "Irene",
    "Jamal", "Kate", "Lars", "Maya", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sam",
];
const LAST_NAMES: [&str; 23] = [
    "Abbott", "Becker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel", "Quispe", "Rossi", "Silva",
    "Tanaka", "Umar", "Vance", "Weber",
];

/// NAT of the head office, used by the regular users when they work on site.
const HQ_NAT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// NAT shared by the 40 crowd users all day.
const BUSY_NAT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
/// NAT that carries about a third of all activity when `skew` is set.
const SKEW_NAT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CI_AGENTS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(192, 0, 2, 40),
    Ipv4Addr::new(192, 0, 2, 41),
    Ipv4Addr::new(192, 0, 2, 42),
    Ipv4Addr::new(192, 0, 2, 43),
];
const MONITORING_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 45);
const FILE_SYNC_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
const BACKUP_EGRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 70);
/// Branch office whose SMB clients reach Azure Files over the internet. No sign-in comes from it.
const BRANCH_OFFICE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);
/// Scenario instances take fresh addresses 203.0.113.2 to .189, one each, in turn.
const POOL_FIRST: u32 = 2;
const POOL_SIZE: u32 = 188;
/// Anonymous readers, password sprays and the uploads before the sign-in export use
/// 203.0.113.190 to .254.
const OUTSIDE_POOL_FIRST: u32 = 190;
const OUTSIDE_POOL_SIZE: u32 = 65;

/// Share of the movable user sessions and scenario uploads that `skew` puts behind
/// [`SKEW_NAT`]. A run at scale 5, seed 1 put 35% of all sign-ins and 32% of all uploads there.
const SKEW_SHARE: f64 = 0.68;

#[derive(Clone, Copy)]
struct Agent {
    text: &'static str,
    os: &'static str,
    browser: &'static str,
}

const BROWSERS: [Agent; 6] = [
    Agent {
        text: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36 Edg/145.0.0.0",
        os: "Windows10",
        browser: "Edge 145.0.0",
    },
    Agent {
        text: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36",
        os: "Windows10",
        browser: "Chrome 145.0.0",
    },
    Agent {
        text: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0",
        os: "Windows10",
        browser: "Firefox 147.0",
    },
    Agent {
        text: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
        os: "MacOs",
        browser: "Safari 18.3",
    },
    Agent {
        text: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36",
        os: "MacOs",
        browser: "Chrome 145.0.0",
    },
    Agent {
        text: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/144.0.0.0 Safari/537.36",
        os: "Linux",
        browser: "Chrome 144.0.0",
    },
];

/// Token refreshes of the Azure CLI, which signs in through MSAL for Python.
const CLI_TOKEN_AGENT: Agent = Agent {
    text: "azsdk-python-identity/1.21.0 Python/3.12.9 (Windows-10-10.0.26100-SP0)",
    os: "Windows10",
    browser: "",
};
/// Token refreshes of Azure PowerShell (Az.Accounts).
const POWERSHELL_TOKEN_AGENT: Agent = Agent {
    text: "AzurePowershell/v13.2.0 PSVersion/v7.4.6 Az.Accounts/4.0.2",
    os: "Windows10",
    browser: "",
};

const AZCOPY_WINDOWS: &str = "AzCopy/10.28.1 Azure-Storage/0.1 (go1.23.6; Windows_NT)";
const AZCOPY_LINUX: &str = "AzCopy/10.28.1 Azure-Storage/0.1 (go1.23.6; linux)";
const PYTHON_BLOB: &str = "azsdk-python-storage-blob/12.24.1 Python/3.12.9 (Linux-6.8.0-1021-azure-x86_64-with-glibc2.39)";
const CLI_BLOB: &str = "AZURECLI/2.70.0 (MSI) azsdk-python-storage-blob/12.24.1 Python/3.12.9 (Windows-10-10.0.26100-SP0)";
/// Storage Explorer delegates transfers to AzCopy; the double space is in the real header.
const STORAGE_EXPLORER: &str = "Microsoft Azure Storage Explorer, 1.37.1, win32, azcopy-node, 2.1.0, win32,  AzCopy/10.28.1 Azure-Storage/0.1 (go1.23.6; Windows_NT)";
const POWERSHELL_BLOB: &str = "AzurePowershell/v13.2.0 PSVersion/v7.4.6 Az.Storage/8.1.0 azsdk-net-Storage.Blobs/12.23.0 (.NET 8.0.11; Microsoft Windows 10.0.26100)";
const DOTNET_BLOB_WINDOWS: &str =
    "azsdk-net-Storage.Blobs/12.23.0 (.NET 8.0.13; Microsoft Windows 10.0.20348)";
const DOTNET_BLOB_LINUX: &str = "azsdk-net-Storage.Blobs/12.23.0 (.NET 8.0.13; Ubuntu 22.04.5 LTS)";
const JS_BLOB: &str =
    "azsdk-js-storage-blob/12.26.0 (NODE-VERSION v20.18.3; Linux 6.8.0-1020-azure)";
const PYTHON_DATALAKE: &str = "azsdk-python-storage-file-datalake/12.18.1 Python/3.11.11 (Linux-6.8.0-1021-azure-x86_64-with-glibc2.39)";
const DOTNET_FILES: &str =
    "azsdk-net-Storage.Files.Shares/12.21.0 (.NET 8.0.13; Microsoft Windows 10.0.26100)";
const FILE_SYNC_AGENT: &str = "AzureFileSync/19.1.0.0 (Windows Server 2022 Datacenter; 10.0.20348)";
const FLUENT_BIT: &str = "Fluent-Bit/3.2.6";
const SCANNER: &str = "python-requests/2.32.3";

const PORTAL_REFERRER: &str = "https://portal.azure.com/";

/// An Entra application that users sign in to; the ids are Microsoft's first-party app ids.
struct EntraApp {
    name: &'static str,
    id: &'static str,
    client_app: &'static str,
}

const APP_PORTAL: EntraApp = EntraApp {
    name: "Azure Portal",
    id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
    client_app: "Browser",
};
const APP_CLI: EntraApp = EntraApp {
    name: "Microsoft Azure CLI",
    id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    client_app: "Mobile Apps and Desktop clients",
};
const APP_POWERSHELL: EntraApp = EntraApp {
    name: "Microsoft Azure PowerShell",
    id: "1950a258-227b-4e31-a9cf-717495945fc2",
    client_app: "Mobile Apps and Desktop clients",
};

/// The resource a token is issued for.
struct Resource {
    name: &'static str,
    id: &'static str,
}

const RESOURCE_ARM: Resource = Resource {
    name: "Windows Azure Service Management API",
    id: "797f4846-ba00-4fd7-ba43-dac1f8f63013",
};
const RESOURCE_STORAGE: Resource =
    Resource { name: "Azure Storage", id: "e406a681-f3d4-42a8-90b6-c2b029497af1" };
const RESOURCE_KEY_VAULT: Resource =
    Resource { name: "Azure Key Vault", id: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093" };
const RESOURCE_GRAPH: Resource =
    Resource { name: "Microsoft Graph", id: "00000003-0000-0000-c000-000000000000" };

/// Role definition id of the built-in "Storage Blob Data Contributor" role.
const BLOB_CONTRIBUTOR_ROLE: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

struct StorageAccount {
    name: &'static str,
    location: &'static str,
}

const ACCOUNTS: [StorageAccount; 8] = [
    StorageAccount { name: "contosodocs", location: "westus2" },
    StorageAccount { name: "contosodata", location: "westus2" },
    StorageAccount { name: "contosobackup", location: "westus2" },
    StorageAccount { name: "contosobuild", location: "eastus2" },
    StorageAccount { name: "contosologs", location: "eastus2" },
    StorageAccount { name: "contosolake", location: "westus2" },
    StorageAccount { name: "contosofiles", location: "westus2" },
    StorageAccount { name: "contosoweb", location: "eastus2" },
];
const DOCS: usize = 0;
const DATA: usize = 1;
const BACKUP: usize = 2;
const BUILD: usize = 3;
const LOGS: usize = 4;
const LAKE: usize = 5;
const FILES: usize = 6;
const WEB: usize = 7;

/// Service principals, managed identities and services that act on storage.
const WORKLOADS: [&str; 7] = [
    "contoso-ci-pipeline",
    "contoso-monitoring",
    "contoso-backup-agent",
    "id-logship-web03",
    "id-logship-web04",
    "Microsoft.StorageSync",
    "contoso-log-shipper",
];
const CI_PIPELINE: usize = 0;
const MONITORING: usize = 1;
const BACKUP_AGENT: usize = 2;
const LOG_SHIPPER_IDENTITIES: [usize; 2] = [3, 4];
const FILE_SYNC_SERVICE: usize = 5;
const LOG_SHIPPER_SAS: usize = 6;

struct Place {
    city: &'static str,
    state: &'static str,
    country: &'static str,
    latitude: f64,
    longitude: f64,
}

const PLACES: [Place; 6] = [
    Place {
        city: "Seattle",
        state: "Washington",
        country: "US",
        latitude: 47.6062,
        longitude: -122.3321,
    },
    Place {
        city: "Redmond",
        state: "Washington",
        country: "US",
        latitude: 47.674,
        longitude: -122.1215,
    },
    Place {
        city: "Portland",
        state: "Oregon",
        country: "US",
        latitude: 45.5152,
        longitude: -122.6784,
    },
    Place {
        city: "Vancouver",
        state: "British Columbia",
        country: "CA",
        latitude: 49.2827,
        longitude: -123.1207,
    },
    Place { city: "Dublin", state: "Dublin", country: "IE", latitude: 53.3498, longitude: -6.2603 },
    Place {
        city: "Amsterdam",
        state: "North Holland",
        country: "NL",
        latitude: 52.3676,
        longitude: 4.9041,
    },
];

fn place_of(address: IpAddr) -> &'static Place {
    let bits = match address {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => (u128::from(v6) >> 64) as u64 ^ u128::from(v6) as u64,
    };
    // Most addresses are in the Pacific Northwest, where the tenant sits.
    match mix64(bits) % 10 {
        0..=3 => &PLACES[0],
        4 | 5 => &PLACES[1],
        6 => &PLACES[2],
        7 => &PLACES[3],
        8 => &PLACES[4],
        _ => &PLACES[5],
    }
}

struct User {
    upn: String,
    display: String,
    /// `CONTOSO\first.last`, the SMB requester name.
    domain_name: String,
    object_id: Guid,
    home: Ipv4Addr,
    browser: Agent,
    device_id: Guid,
    /// Relative id that ends the user's on-premises SID.
    rid: u32,
}

struct Workload {
    name: &'static str,
    app_id: Guid,
    object_id: Guid,
}

/// Everything fixed for a whole run: tenant, people, workloads and precomputed texts.
struct World {
    seed: u64,
    skew: bool,
    tenant: String,
    workspace: String,
    domain_sid: String,
    users: Vec<User>,
    workloads: Vec<Workload>,
    /// `_ResourceId` of each account's blob service and file service.
    resource_ids: Vec<[String; 2]>,
}

impl World {
    fn new(seed: u64, skew: bool) -> World {
        let subscription = Guid::derive(seed, LABEL_SUBSCRIPTION);
        let users = (0..USER_COUNT).map(|index| make_user(seed, index)).collect();
        let workloads = WORKLOADS
            .iter()
            .enumerate()
            .map(|(index, name)| Workload {
                name,
                app_id: Guid::derive(seed, LABEL_WORKLOAD_APP | index as u64),
                object_id: Guid::derive(seed, LABEL_WORKLOAD_OBJECT | index as u64),
            })
            .collect();
        let resource_ids = ACCOUNTS
            .iter()
            .map(|account| {
                let base = format!(
                    "/subscriptions/{subscription}/resourcegroups/rg-storage/providers/microsoft.storage/storageaccounts/{}",
                    account.name
                );
                [format!("{base}/blobservices/default"), format!("{base}/fileservices/default")]
            })
            .collect();
        let sid = mix64(seed ^ 0x51D);
        World {
            seed,
            skew,
            tenant: Guid::derive(seed, LABEL_TENANT).to_string(),
            workspace: Guid::derive(seed, LABEL_WORKSPACE).to_string(),
            domain_sid: format!(
                "S-1-5-21-{}-{}-{}",
                1_000_000_000 + sid % 1_000_000_000,
                1_000_000_000 + (sid >> 20) % 1_000_000_000,
                1_000_000_000 + (sid >> 40) % 1_000_000_000
            ),
            users,
            workloads,
            resource_ids,
        }
    }

    fn account_name(&self, principal: Principal) -> &str {
        match principal {
            Principal::User(index) => &self.users[index].upn,
            Principal::Workload(index) => self.workloads[index].name,
        }
    }
}

/// Builds user `index`. The pair (index % 20, (index / 20 + index) % 23) is distinct for every
/// index below 460, so every user gets a distinct name.
fn make_user(seed: u64, index: usize) -> User {
    let first = FIRST_NAMES[index % FIRST_NAMES.len()];
    let last = LAST_NAMES[(index / FIRST_NAMES.len() + index) % LAST_NAMES.len()];
    let login = format!("{}.{}", first.to_ascii_lowercase(), last.to_ascii_lowercase());
    let browser_index = mix64(seed ^ index as u64) % BROWSERS.len() as u64;
    User {
        upn: format!("{login}@contoso.com"),
        display: format!("{first} {last}"),
        domain_name: format!("CONTOSO\\{login}"),
        object_id: Guid::derive(seed, LABEL_USER | index as u64),
        home: Ipv4Addr::new(198, 51, 100, 10 + index as u8),
        browser: BROWSERS[browser_index as usize],
        device_id: Guid::derive(seed, LABEL_DEVICE | index as u64),
        rid: 1100 + index as u32,
    }
}

// ---------------------------------------------------------------------------------------------
// Rows

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Principal {
    User(usize),
    Workload(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Blob,
    /// Data Lake Storage requests on the `dfs` endpoint; they are logged in `StorageBlobLogs`.
    Dfs,
    File,
    Smb,
}

impl Service {
    fn in_blob_logs(self) -> bool {
        matches!(self, Service::Blob | Service::Dfs)
    }
}

/// Credential that authorised a request.
#[derive(Clone, Copy)]
enum Credential {
    /// A SAS signed with the account key; `expiry` is the `se` time.
    Sas {
        signature: u64,
        expiry: i64,
        account_sas: bool,
    },
    AccountKey {
        key: u8,
    },
    /// The portal's own system key; logged as `AccountKey` with a `system-1(...)` hash.
    PortalKey,
    OAuth {
        principal: Principal,
        app: &'static EntraApp,
        token: u64,
    },
    Anonymous,
    Kerberos {
        user: usize,
    },
}

impl Credential {
    fn authentication_type(&self) -> &'static str {
        match self {
            Credential::Sas { .. } => "SAS",
            Credential::AccountKey { .. } | Credential::PortalKey => "AccountKey",
            Credential::OAuth { .. } => "OAuth",
            Credential::Anonymous => "Anonymous",
            Credential::Kerberos { .. } => "Kerberos",
        }
    }

    /// Prefix of error names in `MetricResponseType`, such as `SASAuthorizationError`.
    fn error_prefix(&self) -> &'static str {
        match self {
            Credential::Sas { .. } => "SAS",
            Credential::Anonymous => "Anonymous",
            _ => "",
        }
    }
}

/// Written form of `CallerIpAddress`.
#[derive(Clone, Copy)]
enum Address {
    V4 {
        ip: Ipv4Addr,
        port: u16,
    },
    /// IPv6, as `[v6]:port` with a port, or compressed and bare without one.
    V6 {
        ip: Ipv6Addr,
        port: Option<u16>,
    },
    /// An address without a port, as SMB rows have.
    Bare(IpAddr),
    Redacted {
        port: u16,
    },
    Empty,
}

impl Address {
    fn ip(&self) -> Option<IpAddr> {
        match *self {
            Address::V4 { ip, .. } => Some(IpAddr::V4(ip)),
            Address::V6 { ip, .. } => Some(IpAddr::V6(ip)),
            Address::Bare(ip) => Some(ip),
            Address::Redacted { .. } | Address::Empty => None,
        }
    }

    /// Moves the source port by `step`, as a client opening another connection does.
    fn with_port_step(self, step: u16) -> Address {
        match self {
            Address::V4 { ip, port } => Address::V4 { ip, port: port.wrapping_add(step).max(1024) },
            Address::V6 { ip, port: Some(port) } => {
                Address::V6 { ip, port: Some(port.wrapping_add(step).max(1024)) }
            }
            Address::Redacted { port } => Address::Redacted { port: port.wrapping_add(step) },
            other => other,
        }
    }

    fn push_text(&self, out: &mut String) {
        let _ = match *self {
            Address::V4 { ip, port } => write!(out, "{ip}:{port}"),
            Address::V6 { ip, port: Some(port) } => write!(out, "[{ip}]:{port}"),
            Address::V6 { ip, port: None } => write!(out, "{ip}"),
            Address::Bare(ip) => write!(out, "{ip}"),
            Address::Redacted { port } => write!(out, "<Redacted>:{port}"),
            Address::Empty => Ok(()),
        };
    }
}

#[derive(Clone, Copy)]
struct Status {
    code: &'static str,
    /// REST error name; `None` for success.
    error: Option<&'static str>,
}

fn success_status(operation: &str) -> Status {
    let code = match operation {
        "CopyBlob" | "AppendFile" => "202",
        "FlushFile" => "200",
        "PutBlob" | "PutBlock" | "PutBlockList" | "AppendBlock" | "PutPage" | "CreatePathFile"
        | "CreateFile" | "PutRange" => "201",
        _ => "200",
    };
    Status { code, error: None }
}

struct Smb {
    session: u64,
    tree: u32,
    file_id: u64,
    handle: u64,
    message: u64,
    major: u64,
    detail: String,
}

struct StorageRow {
    time: i64,
    account: usize,
    service: Service,
    operation: &'static str,
    credential: Credential,
    status: Status,
    duration_ms: u64,
    server_ms: u64,
    /// Decoded `<container>/<path>`, or `<container>`, or empty for account-level requests.
    object: String,
    /// Encoded query parameters of the operation; SAS parameters are added when written.
    query: String,
    explicit_port: bool,
    address: Address,
    correlation: Guid,
    client_request: Guid,
    agent: &'static str,
    referrer: &'static str,
    version: &'static str,
    tls: &'static str,
    /// Seed of the `Etag` value; 0 writes none.
    etag: u64,
    request_header: u64,
    request_body: u64,
    response_header: u64,
    response_body: u64,
    /// Seeds of `RequestMd5` and `ResponseMd5`; 0 writes none.
    request_md5: u64,
    response_md5: u64,
    last_modified: Option<i64>,
    content_length: u64,
    conditions: &'static str,
    access_tier: &'static str,
    /// Decoded `<account>/<container>/<path>` of a copy source.
    copy_source: String,
    smb: Option<Smb>,
}

impl StorageRow {
    fn category(&self) -> &'static str {
        match self.operation {
            "GetBlob"
            | "GetBlobProperties"
            | "ListBlobs"
            | "ListContainers"
            | "GetContainerProperties"
            | "GetFile"
            | "GetFileProperties"
            | "ListFilesAndDirectories"
            | "Read"
            | "QueryInfo"
            | "QueryDirectory" => "StorageRead",
            "DeleteBlob" | "DeleteFile" => "StorageDelete",
            _ => "StorageWrite",
        }
    }

    fn status_text(&self) -> &'static str {
        match (self.status.error, self.service) {
            (Some(error), _) => error,
            (None, Service::Smb) => "",
            (None, _) => "Success",
        }
    }

    fn metric_response_type(&self) -> String {
        match self.status.code {
            _ if self.status.error.is_none() => "Success".to_string(),
            "403" => format!("{}AuthorizationError", self.credential.error_prefix()),
            _ => format!("{}ClientOtherError", self.credential.error_prefix()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SigninTable {
    Interactive,
    NonInteractive,
    ServicePrincipal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SigninResult {
    Success,
    /// 50126: invalid user name or password.
    BadPassword,
    /// 50074: strong authentication is required; the user is sent to MFA.
    MfaRequired,
}

impl SigninResult {
    fn code(self) -> &'static str {
        match self {
            SigninResult::Success => "0",
            SigninResult::BadPassword => "50126",
            SigninResult::MfaRequired => "50074",
        }
    }

    fn description(self) -> &'static str {
        match self {
            SigninResult::Success => "",
            SigninResult::BadPassword => {
                "Error validating credentials due to invalid username or password."
            }
            SigninResult::MfaRequired => "Strong Authentication is required.",
        }
    }
}

struct SigninRow {
    table: SigninTable,
    /// `CreatedDateTime`, the real event time.
    created: i64,
    /// `TimeGenerated`; service principal rows have no `CreatedDateTime` and use this alone.
    generated: i64,
    principal: Principal,
    address: IpAddr,
    /// `IPAddress` as written, which may differ in form from `address`.
    address_text: String,
    app: &'static EntraApp,
    resource: &'static Resource,
    agent: Agent,
    result: SigninResult,
    correlation: Guid,
    id: Guid,
    session: Guid,
}

impl SigninRow {
    /// Event time as the export shows it: `SigninLogs` CSV keeps milliseconds, the JSON tables
    /// keep every digit, and service principal rows only have `TimeGenerated`.
    fn exported_event_time(&self) -> i64 {
        match self.table {
            SigninTable::Interactive => truncate_to(self.created, TICKS_PER_MILLISECOND),
            SigninTable::NonInteractive => self.created,
            SigninTable::ServicePrincipal => self.generated,
        }
    }
}

/// One upload and its ground truth.
struct Upload {
    /// Decoded `/<account>/<container>/<path>`.
    object_path: String,
    /// Time of the completing request as the export shows it.
    time: i64,
    kind: &'static str,
    uploader: Principal,
    address: Option<IpAddr>,
    oauth: bool,
    /// An SMB upload with Kerberos, whose rows name the Windows user (`RequesterUserName`).
    kerberos: bool,
    scenario: Scenario,
    attributable: bool,
}

/// A successful sign-in, reduced to what attribution needs.
#[derive(Clone, Copy)]
struct Evidence {
    time: i64,
    principal: Principal,
    address: IpAddr,
}

/// Returns whether an upload is attributable: whether the logs can tell who made it. They can
/// when the storage row names an OAuth requester or, for SMB with Kerberos, the Windows user.
/// Otherwise the uploader must have signed in
/// successfully from the caller's public address between 90 minutes before and 5 minutes after
/// the upload, and that address's sign-in nearest the upload must be the uploader's: the latest
/// one before the upload, or the first one after it when none came before. Behind a shared
/// address where another account signed in more recently, no log can tell the two apart. The
/// sign-in time is `CreatedDateTime`, or `TimeGenerated` in tables without it. `evidence` must
/// be sorted by time.
fn is_attributable(upload: &Upload, evidence: &[Evidence]) -> bool {
    if upload.oauth || upload.kerberos {
        return true;
    }
    let Some(address) = upload.address.filter(|address| is_public(*address)) else {
        return false;
    };
    let from = upload.time - ATTRIBUTION_BEFORE;
    let to = upload.time + ATTRIBUTION_AFTER;
    let first = evidence.partition_point(|item| item.time < from);
    let in_window: Vec<&Evidence> = evidence[first..]
        .iter()
        .take_while(|item| item.time <= to)
        .filter(|item| item.address == address)
        .collect();
    let latest_before = in_window.iter().filter(|item| item.time <= upload.time).max_by_key(|item| item.time);
    let nearest = latest_before.or_else(|| in_window.iter().filter(|item| item.time > upload.time).min_by_key(|item| item.time));
    nearest.is_some_and(|item| item.principal == upload.uploader)
}

const ATTRIBUTION_BEFORE: i64 = 90 * TICKS_PER_MINUTE;
const ATTRIBUTION_AFTER: i64 = 5 * TICKS_PER_MINUTE;

/// Returns whether an address can appear as a client's public egress. The documentation ranges count
/// as public, because this data uses them in that role.
fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (64..128).contains(&b);
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || shared)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// The case an upload belongs to; its slug is the `scenario` column of `truth.csv`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    /// Interactive browser sign-in, then `PutBlob` with the same user agent 5-50 s later.
    PortalUpload,
    /// AzCopy or SDK upload 2-60 min after a browser sign-in: the user agents differ.
    SdkUpload,
    /// `PutBlock` × N, then `PutBlockList`: one upload.
    BlockUpload,
    /// OAuth upload from the office NAT just after another user signed in there.
    OauthSharedNat,
    /// Upload from a NAT that dozens of users sign in from; the uploader's sign-in is the
    /// closest one before the upload.
    BusyNat,
    /// IPv6 caller written `[v6]:port` or compressed in storage, uncompressed in the sign-in.
    Ipv6Forms,
    /// Sign-in from `::ffff:a.b.c.d`, upload from `a.b.c.d:port`.
    Ipv4Mapped,
    /// The uploader has only non-interactive sign-ins that day.
    NonInteractiveOnly,
    /// `TimeGenerated` of the sign-in falls after the upload, `CreatedDateTime` before it.
    SigninIngestLag,
    /// The only sign-in is stamped a few seconds after the upload (clock skew).
    SigninAfterUpload,
    /// Another user's failed sign-in (50126) from the uploader's address just before.
    FailedSigninNearby,
    /// The user signs in from a public address but uploads through a private endpoint.
    PrivateEndpoint,
    /// `CallerIpAddress` is `<Redacted>:port`.
    RedactedCaller,
    /// `CallerIpAddress` is empty.
    EmptyCaller,
    /// Nightly backup from a VNet with the account key.
    BackupJob,
    /// Office documents uploaded through the portal or Storage Explorer.
    PortalDocument,
    /// Build artifacts uploaded by the CI pipeline's service principal.
    CiArtifact,
    /// A log shipper appending the rotated daily log file.
    LogShipping,
    /// Azure File Sync uploading from the sync server.
    FileSync,
    /// `CreatePathFile`, `AppendFile` × N, `FlushFile` on the Data Lake endpoint.
    DataLakeUpload,
    /// `CreateFile`, then `PutRange` × N on Azure Files.
    FileRestUpload,
    /// SMB `Write` with Kerberos: no Entra sign-in exists for it.
    SmbWrite,
    /// Upload on day 0 before the first sign-in in the export.
    BeforeSigninExport,
    /// Page blob upload ending with `PutPage`.
    PageBlob,
    /// Server-side `CopyBlob`.
    CopyBlob,
    /// Ordinary upload in a user's session.
    Background,
}

impl Scenario {
    #[cfg(test)]
    const ALL: [Scenario; 26] = [
        Scenario::PortalUpload,
        Scenario::SdkUpload,
        Scenario::BlockUpload,
        Scenario::OauthSharedNat,
        Scenario::BusyNat,
        Scenario::Ipv6Forms,
        Scenario::Ipv4Mapped,
        Scenario::NonInteractiveOnly,
        Scenario::SigninIngestLag,
        Scenario::SigninAfterUpload,
        Scenario::FailedSigninNearby,
        Scenario::PrivateEndpoint,
        Scenario::RedactedCaller,
        Scenario::EmptyCaller,
        Scenario::BackupJob,
        Scenario::PortalDocument,
        Scenario::CiArtifact,
        Scenario::LogShipping,
        Scenario::FileSync,
        Scenario::DataLakeUpload,
        Scenario::FileRestUpload,
        Scenario::SmbWrite,
        Scenario::BeforeSigninExport,
        Scenario::PageBlob,
        Scenario::CopyBlob,
        Scenario::Background,
    ];

    fn slug(self) -> &'static str {
        match self {
            Scenario::PortalUpload => "portal-upload",
            Scenario::SdkUpload => "sdk-upload",
            Scenario::BlockUpload => "block-upload",
            Scenario::OauthSharedNat => "oauth-shared-nat",
            Scenario::BusyNat => "busy-nat",
            Scenario::Ipv6Forms => "ipv6-forms",
            Scenario::Ipv4Mapped => "ipv4-mapped",
            Scenario::NonInteractiveOnly => "noninteractive-only",
            Scenario::SigninIngestLag => "signin-ingest-lag",
            Scenario::SigninAfterUpload => "signin-after-upload",
            Scenario::FailedSigninNearby => "failed-signin-nearby",
            Scenario::PrivateEndpoint => "private-endpoint",
            Scenario::RedactedCaller => "redacted-caller",
            Scenario::EmptyCaller => "empty-caller",
            Scenario::BackupJob => "backup-job",
            Scenario::PortalDocument => "portal-document",
            Scenario::CiArtifact => "ci-artifact",
            Scenario::LogShipping => "log-shipping",
            Scenario::FileSync => "file-sync",
            Scenario::DataLakeUpload => "datalake-upload",
            Scenario::FileRestUpload => "file-rest-upload",
            Scenario::SmbWrite => "smb-write",
            Scenario::BeforeSigninExport => "before-signin-export",
            Scenario::PageBlob => "page-blob",
            Scenario::CopyBlob => "copy-blob",
            Scenario::Background => "background",
        }
    }
}

/// Scenarios placed as separate instances, with their number per simulated day. Busy-NAT
/// uploads, background work and day 0's early uploads are placed by their own routines.
const DAILY_INSTANCES: [(Scenario, u32); 19] = [
    (Scenario::PortalUpload, 5),
    (Scenario::SdkUpload, 5),
    (Scenario::BlockUpload, 5),
    (Scenario::OauthSharedNat, 4),
    (Scenario::Ipv6Forms, 3),
    (Scenario::Ipv4Mapped, 2),
    (Scenario::NonInteractiveOnly, 4),
    (Scenario::SigninIngestLag, 4),
    (Scenario::SigninAfterUpload, 4),
    (Scenario::FailedSigninNearby, 6),
    (Scenario::PrivateEndpoint, 3),
    (Scenario::RedactedCaller, 2),
    (Scenario::EmptyCaller, 2),
    (Scenario::PortalDocument, 6),
    (Scenario::DataLakeUpload, 4),
    (Scenario::FileRestUpload, 4),
    (Scenario::SmbWrite, 4),
    (Scenario::PageBlob, 1),
    (Scenario::CopyBlob, 2),
];
const BUSY_NAT_UPLOADS_PER_DAY: usize = 6;
/// Day 0 gets this many uploads per scale unit before the sign-in export starts.
const EARLY_UPLOADS_PER_SCALE: u32 = 4;

const DOCUMENT_STEMS: [&str; 12] = [
    "Q1 forecast",
    "Board minutes",
    "Résumé - final",
    "Customer list (2026)",
    "Budget, revised",
    "Contract+addendum",
    "Übersicht Projekte",
    "travel expenses",
    "Roadmap draft",
    "Offer \"premium\"",
    "Org chart",
    "Vendor review",
];
const DOCUMENT_EXTENSIONS: [&str; 4] = ["docx", "xlsx", "pptx", "pdf"];
const DATA_STEMS: [&str; 8] = [
    "customers",
    "orders export",
    "sensor readings",
    "train-part",
    "invoices_2026",
    "crm dump",
    "données clients",
    "events#raw",
];
const DATA_EXTENSIONS: [&str; 5] = ["csv", "parquet", "json", "gz", "zip"];
const MEDIA_STEMS: [&str; 4] = ["Team photo", "site plan", "whiteboard", "scan"];
const MEDIA_EXTENSIONS: [&str; 3] = ["png", "jpg", "mp4"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Portal,
    AzCopy,
    PythonSdk,
    AzureCli,
    PowerShell,
    StorageExplorer,
}

// ---------------------------------------------------------------------------------------------
// One simulated day

/// A client as seen by storage: where it calls from, what it sends and how it is authorised.
#[derive(Clone, Copy)]
struct Client {
    address: Address,
    agent: &'static str,
    referrer: &'static str,
    credential: Credential,
    explicit_port: bool,
    version: &'static str,
    tls: &'static str,
}

/// Identity and scenario recorded with an upload in `truth.csv`.
#[derive(Clone, Copy)]
struct Truth {
    uploader: Principal,
    scenario: Scenario,
}

struct Day<'w> {
    world: &'w World,
    index: u32,
    scale: u32,
    start: i64,
    rng: Rng,
    next_row: u64,
    blob: Vec<StorageRow>,
    file: Vec<StorageRow>,
    signins: Vec<SigninRow>,
    uploads: Vec<Upload>,
    upload_sequence: u32,
    next_pool: u32,
    next_ipv6: u16,
    /// Users who sign in only non-interactively today.
    no_interactive: Vec<bool>,
}

/// A day's rows, sorted, ready to be written.
struct DayBatch {
    blob: Vec<StorageRow>,
    file: Vec<StorageRow>,
    interactive: Vec<SigninRow>,
    non_interactive: Vec<SigninRow>,
    service_principal: Vec<SigninRow>,
    uploads: Vec<Upload>,
    /// Successful sign-ins that the next day's first uploads may still be attributed to.
    carry: Vec<Evidence>,
}

// The row builders take a request's parts as separate arguments; bundling them into structs
// would only rename them.
#[allow(clippy::too_many_arguments)]
impl<'w> Day<'w> {
    fn new(world: &'w World, index: u32, scale: u32) -> Day<'w> {
        let seed = mix64(world.seed ^ mix64(u64::from(index) + 1));
        Day {
            world,
            index,
            scale,
            start: FIRST_DAY + i64::from(index) * TICKS_PER_DAY,
            rng: Rng::new(seed),
            next_row: 0,
            blob: Vec::new(),
            file: Vec::new(),
            signins: Vec::new(),
            uploads: Vec::new(),
            upload_sequence: 0,
            next_pool: (index * 37) % POOL_SIZE,
            next_ipv6: 0,
            no_interactive: vec![false; USER_COUNT],
        }
    }

    fn generate(&mut self) {
        self.choose_non_interactive_users();
        self.regular_sessions();
        self.crowd_activity();
        self.web_app_traffic();
        self.static_site_reads();
        self.password_spray();
        self.pipeline_runs();
        self.monitoring_signins();
        self.nightly_backups();
        self.log_shipping();
        self.file_sync();
        self.smb_reads();
        self.busy_nat_uploads();
        for (scenario, count) in DAILY_INSTANCES {
            for _ in 0..count {
                self.instance(scenario);
            }
        }
        if self.index == 0 {
            self.uploads_before_signin_export();
        }
    }

    /// Sorts the rows, drops sign-ins before the export start and computes attributability.
    fn finish(mut self, carry: &[Evidence]) -> DayBatch {
        if self.index == 0 {
            let export_start = self.start + SIGNIN_EXPORT_START;
            self.signins.retain(|row| row.generated >= export_start);
        }
        self.blob.sort_by_key(|row| row.time);
        self.file.sort_by_key(|row| row.time);
        self.signins.sort_by_key(|row| row.generated);

        let mut evidence: Vec<Evidence> = carry.to_vec();
        evidence.extend(self.signins.iter().filter(|row| row.result == SigninResult::Success).map(
            |row| Evidence {
                time: row.exported_event_time(),
                principal: row.principal,
                address: row.address,
            },
        ));
        evidence.sort_by_key(|item| item.time);
        for upload in &mut self.uploads {
            upload.attributable = is_attributable(upload, &evidence);
        }
        self.uploads.sort_by(|a, b| (a.time, &a.object_path).cmp(&(b.time, &b.object_path)));

        let next_start = self.start + TICKS_PER_DAY;
        evidence.retain(|item| item.time >= next_start - ATTRIBUTION_BEFORE);

        let mut interactive = Vec::new();
        let mut non_interactive = Vec::new();
        let mut service_principal = Vec::new();
        for row in self.signins {
            match row.table {
                SigninTable::Interactive => interactive.push(row),
                SigninTable::NonInteractive => non_interactive.push(row),
                SigninTable::ServicePrincipal => service_principal.push(row),
            }
        }
        DayBatch {
            blob: self.blob,
            file: self.file,
            interactive,
            non_interactive,
            service_principal,
            uploads: self.uploads,
            carry: evidence,
        }
    }

    // --- small helpers ---

    fn next_guid(&mut self) -> Guid {
        let label = LABEL_ROW | (u64::from(self.index) << 32) | self.next_row;
        self.next_row += 1;
        Guid::derive(self.world.seed, label)
    }

    /// Returns a time today between two hours of the day, aligned to whole microseconds.
    fn at(&mut self, from_hour: f64, to_hour: f64) -> i64 {
        let from = self.start + hours(from_hour);
        let to = self.start + hours(to_hour);
        truncate_to(self.rng.range(from, to), TICKS_PER_MICROSECOND)
    }

    /// Returns a duration between two bounds, aligned to whole microseconds.
    fn span(&mut self, low: i64, high: i64) -> i64 {
        truncate_to(self.rng.range(low, high), TICKS_PER_MICROSECOND)
    }

    fn pool_address(&mut self) -> Ipv4Addr {
        let host = POOL_FIRST + self.next_pool % POOL_SIZE;
        self.next_pool += 1;
        Ipv4Addr::new(203, 0, 113, host as u8)
    }

    fn outside_pool_address(&mut self) -> Ipv4Addr {
        let host = OUTSIDE_POOL_FIRST + self.rng.below(u64::from(OUTSIDE_POOL_SIZE)) as u32;
        Ipv4Addr::new(203, 0, 113, host as u8)
    }

    fn ipv6_address(&mut self) -> Ipv6Addr {
        self.next_ipv6 += 1;
        let subnet = (self.index % 0xffff) as u16 + 1;
        Ipv6Addr::new(0x2001, 0xdb8, 4, subnet, 0, 0, 0, 0x10 + self.next_ipv6)
    }

    /// Returns where a regular user works from in a session: the skew NAT when `skew` picks it,
    /// else the office or home.
    fn session_address(&mut self, user: usize) -> Ipv4Addr {
        if self.skewed() {
            SKEW_NAT
        } else if self.rng.chance(0.4) {
            HQ_NAT
        } else {
            self.world.users[user].home
        }
    }

    fn skewed(&mut self) -> bool {
        self.world.skew && self.rng.chance(SKEW_SHARE)
    }

    /// Returns a fresh scenario address, or the skew NAT when `skew` picks it.
    fn scenario_address(&mut self) -> Ipv4Addr {
        if self.skewed() {
            SKEW_NAT
        } else {
            self.pool_address()
        }
    }

    fn https(&mut self, ip: Ipv4Addr, linux: bool) -> Address {
        let port =
            if linux { self.rng.range(32_768, 61_000) } else { self.rng.range(49_152, 65_536) };
        Address::V4 { ip, port: port as u16 }
    }

    /// Picks a regular user who may sign in interactively today.
    fn scenario_user(&mut self) -> usize {
        loop {
            let user = self.rng.below(CROWD_START as u64) as usize;
            if !self.no_interactive[user] {
                return user;
            }
        }
    }

    fn other_user(&mut self, not: usize) -> usize {
        loop {
            let user = self.scenario_user();
            if user != not {
                return user;
            }
        }
    }

    /// Returns `TimeGenerated` minus `CreatedDateTime`: usually seconds, sometimes up to two
    /// minutes.
    fn ingest_lag(&mut self) -> i64 {
        let roll = self.rng.below(100);
        let (low, high) = match roll {
            0..=69 => (seconds(1), seconds(15)),
            70..=94 => (seconds(15), seconds(60)),
            _ => (seconds(60), seconds(120)),
        };
        self.span(low, high)
    }

    fn sas(&mut self, account_sas: bool) -> Credential {
        let expiry_days = self.rng.range(1, 30);
        let expiry = truncate_to(self.start + expiry_days * TICKS_PER_DAY, TICKS_PER_HOUR);
        Credential::Sas { signature: self.rng.next_u64(), expiry, account_sas }
    }

    fn user_oauth(&mut self, user: usize, app: &'static EntraApp) -> Credential {
        Credential::OAuth { principal: Principal::User(user), app, token: self.rng.next_u64() }
    }

    /// Builds a storage client of a user. It uses OAuth with probability `oauth_share`, and
    /// otherwise the tool's usual key or SAS, so that only the caller address links its uploads
    /// to a person.
    fn user_client(&mut self, user: usize, tool: Tool, ip: Ipv4Addr, oauth_share: f64) -> Client {
        let address = self.https(ip, tool == Tool::PythonSdk);
        let agent = match tool {
            Tool::Portal => self.world.users[user].browser.text,
            Tool::AzCopy => AZCOPY_WINDOWS,
            Tool::PythonSdk => PYTHON_BLOB,
            Tool::AzureCli => CLI_BLOB,
            Tool::PowerShell => POWERSHELL_BLOB,
            Tool::StorageExplorer => STORAGE_EXPLORER,
        };
        let credential = if self.rng.chance(oauth_share) {
            let app = match tool {
                Tool::Portal => &APP_PORTAL,
                Tool::PowerShell => &APP_POWERSHELL,
                _ => &APP_CLI,
            };
            self.user_oauth(user, app)
        } else {
            match tool {
                Tool::Portal if self.rng.chance(0.5) => Credential::PortalKey,
                Tool::PythonSdk | Tool::AzureCli | Tool::PowerShell if self.rng.chance(0.5) => {
                    Credential::AccountKey { key: 1 + self.rng.below(2) as u8 }
                }
                Tool::StorageExplorer if self.rng.chance(0.3) => Credential::AccountKey { key: 1 },
                _ => {
                    let account_sas = self.rng.chance(0.3);
                    self.sas(account_sas)
                }
            }
        };
        Client {
            address,
            agent,
            referrer: if tool == Tool::Portal { PORTAL_REFERRER } else { "" },
            credential,
            explicit_port: tool != Tool::Portal && self.rng.chance(0.5),
            version: match tool {
                Tool::Portal => "2025-01-05",
                Tool::AzCopy | Tool::StorageExplorer => "2025-05-05",
                Tool::PythonSdk | Tool::AzureCli | Tool::PowerShell => "2025-01-05",
            },
            tls: if self.rng.chance(0.6) { "TLS 1.3" } else { "TLS 1.2" },
        }
    }

    fn service_client(
        &mut self,
        address: Address,
        agent: &'static str,
        credential: Credential,
    ) -> Client {
        Client {
            address,
            agent,
            referrer: "",
            credential,
            explicit_port: self.rng.chance(0.7),
            version: "2025-05-05",
            tls: "TLS 1.2",
        }
    }

    fn upload_tool(&mut self) -> Tool {
        *self.rng.pick(&[Tool::AzCopy, Tool::PythonSdk, Tool::AzureCli, Tool::StorageExplorer])
    }

    /// Returns a unique object name: every upload path contains the date and today's upload
    /// number.
    fn object_name(&mut self, folder: &str, stems: &[&str], extensions: &[&str]) -> String {
        self.upload_sequence += 1;
        let stem = *self.rng.pick(stems);
        let extension = *self.rng.pick(extensions);
        let date = date_text(self.start, "-");
        format!("{folder}{date}/{stem}-{}.{extension}", self.upload_sequence)
    }

    // --- sign-ins ---

    fn push_signin(
        &mut self,
        table: SigninTable,
        created: i64,
        principal: Principal,
        address: IpAddr,
        app: &'static EntraApp,
        resource: &'static Resource,
        agent: Agent,
    ) -> &mut SigninRow {
        let created = truncate_to(created, TICKS_PER_MICROSECOND);
        let generated = match table {
            SigninTable::ServicePrincipal => created,
            _ => created + self.ingest_lag(),
        };
        let row = SigninRow {
            table,
            created,
            generated,
            principal,
            address,
            address_text: address.to_string(),
            app,
            resource,
            agent,
            result: SigninResult::Success,
            correlation: self.next_guid(),
            id: self.next_guid(),
            session: self.next_guid(),
        };
        self.signins.push(row);
        self.signins.last_mut().expect("a row was just pushed")
    }

    fn interactive(
        &mut self,
        created: i64,
        user: usize,
        address: Ipv4Addr,
        app: &'static EntraApp,
    ) -> &mut SigninRow {
        let agent = self.world.users[user].browser;
        let principal = Principal::User(user);
        self.push_signin(
            SigninTable::Interactive,
            created,
            principal,
            IpAddr::V4(address),
            app,
            &RESOURCE_ARM,
            agent,
        )
    }

    fn refresh(
        &mut self,
        created: i64,
        user: usize,
        address: Ipv4Addr,
        app: &'static EntraApp,
        agent: Agent,
    ) -> &mut SigninRow {
        let principal = Principal::User(user);
        let address = IpAddr::V4(address);
        self.push_signin(
            SigninTable::NonInteractive,
            created,
            principal,
            address,
            app,
            &RESOURCE_STORAGE,
            agent,
        )
    }

    fn workload_signin(
        &mut self,
        created: i64,
        workload: usize,
        address: Ipv4Addr,
        resource: &'static Resource,
    ) {
        let principal = Principal::Workload(workload);
        let agent = Agent { text: "", os: "", browser: "" };
        self.push_signin(
            SigninTable::ServicePrincipal,
            created,
            principal,
            IpAddr::V4(address),
            &APP_PORTAL,
            resource,
            agent,
        );
    }

    fn failed_signin(
        &mut self,
        created: i64,
        user: usize,
        address: Ipv4Addr,
        result: SigninResult,
    ) {
        self.interactive(created, user, address, &APP_PORTAL).result = result;
    }

    // --- storage requests ---

    /// Starts a storage row with the client's context and typical sizes; the caller adjusts it
    /// and passes it to [`Day::push`].
    fn request(
        &mut self,
        time: i64,
        client: &Client,
        account: usize,
        service: Service,
        operation: &'static str,
        object: &str,
    ) -> StorageRow {
        let duration_ms = self.rng.range(3, 40) as u64;
        StorageRow {
            time,
            account,
            service,
            operation,
            credential: client.credential,
            status: success_status(operation),
            duration_ms,
            server_ms: duration_ms.saturating_sub(self.rng.below(3)),
            object: object.to_string(),
            query: String::new(),
            explicit_port: client.explicit_port,
            address: client.address.with_port_step(self.rng.below(3) as u16),
            correlation: self.next_guid(),
            client_request: self.next_guid(),
            agent: client.agent,
            referrer: client.referrer,
            version: client.version,
            tls: client.tls,
            etag: 0,
            request_header: self.rng.range(420, 1500) as u64,
            request_body: 0,
            response_header: self.rng.range(230, 480) as u64,
            response_body: 0,
            request_md5: 0,
            response_md5: 0,
            last_modified: None,
            content_length: 0,
            conditions: "",
            access_tier: "",
            copy_source: String::new(),
            smb: None,
        }
    }

    fn push(&mut self, mut row: StorageRow) {
        row.time = truncate_to(row.time, TICKS_PER_MICROSECOND);
        if row.service.in_blob_logs() {
            self.blob.push(row);
        } else {
            self.file.push(row);
        }
    }

    /// Marks a write row with a new ETag and last-modified time.
    fn written(&mut self, row: &mut StorageRow) {
        row.etag = self.rng.next_u64();
        row.last_modified = Some(truncate_to(row.time, TICKS_PER_SECOND));
    }

    fn record_upload(
        &mut self,
        time: i64,
        service: Service,
        account: usize,
        object: &str,
        kind: &'static str,
        client: &Client,
        truth: Truth,
    ) {
        let time = truncate_to(time, TICKS_PER_MICROSECOND);
        let exported =
            if service.in_blob_logs() { truncate_to(time, TICKS_PER_MILLISECOND) } else { time };
        assert!(
            time < self.start + UPLOAD_DEADLINE,
            "upload at {time} completes too close to midnight"
        );
        self.uploads.push(Upload {
            object_path: format!("/{}/{object}", ACCOUNTS[account].name),
            time: exported,
            kind,
            uploader: truth.uploader,
            address: client.address.ip(),
            oauth: matches!(client.credential, Credential::OAuth { .. }),
            kerberos: matches!(client.credential, Credential::Kerberos { .. }),
            scenario: truth.scenario,
            attributable: false,
        });
    }

    /// Single `PutBlob`; returns its time.
    fn put_blob(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        object: &str,
        size: u64,
        truth: Truth,
    ) -> i64 {
        let mut row = self.request(time, client, account, Service::Blob, "PutBlob", object);
        row.request_body = size;
        row.content_length = size;
        row.duration_ms = 12 + size / 3_000_000 + self.rng.below(30);
        row.server_ms = row.duration_ms.saturating_sub(2 + self.rng.below(5));
        // Tools send Content-MD5 for single-shot uploads; browsers do not.
        if client.referrer.is_empty() && self.rng.chance(0.5) {
            row.request_md5 = self.rng.next_u64();
        }
        if self.rng.chance(0.3) {
            row.access_tier = "Hot";
        }
        self.written(&mut row);
        self.push(row);
        self.record_upload(time, Service::Blob, account, object, "PutBlob", client, truth);
        time
    }

    /// `PutBlock` × `blocks`, then `PutBlockList`; returns the time of the `PutBlockList`.
    fn block_upload(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        object: &str,
        blocks: u64,
        block_size: u64,
        truth: Truth,
    ) -> i64 {
        let upload_id = self.rng.next_u64();
        let mut at = time;
        for number in 0..blocks {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&upload_id.to_be_bytes());
            id[8..].copy_from_slice(&number.to_be_bytes());
            let mut block_id = String::new();
            push_base64(&mut block_id, &id);

            let mut row = self.request(at, client, account, Service::Blob, "PutBlock", object);
            row.query = String::from("comp=block&blockid=");
            push_percent_encoded(&mut row.query, &block_id, "");
            let size = if number + 1 == blocks {
                block_size / 2 + self.rng.below(block_size / 2)
            } else {
                block_size
            };
            row.request_body = size;
            row.content_length = size;
            row.duration_ms = 60 + size / 2_000_000 + self.rng.below(200);
            row.server_ms = row.duration_ms / 2;
            self.push(row);
            at += self.span(seconds(1) / 5, seconds(3));
        }
        let mut row = self.request(at, client, account, Service::Blob, "PutBlockList", object);
        row.query = String::from("comp=blocklist");
        row.request_body = 40 + 62 * blocks;
        row.content_length = row.request_body;
        self.written(&mut row);
        self.push(row);
        self.record_upload(at, Service::Blob, account, object, "PutBlockList", client, truth);
        at
    }

    /// `PutBlob` creating an append blob, then `AppendBlock` × `appends`; returns the time of the
    /// last `AppendBlock`.
    fn append_upload(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        object: &str,
        appends: u64,
        truth: Truth,
    ) -> i64 {
        let mut create = self.request(time, client, account, Service::Blob, "PutBlob", object);
        self.written(&mut create);
        self.push(create);
        let mut at = time;
        for _ in 0..appends {
            at += self.span(seconds(1) / 10, seconds(4));
            let mut row = self.request(at, client, account, Service::Blob, "AppendBlock", object);
            row.query = String::from("comp=appendblock");
            row.request_body = self.rng.range(200_000, 4_000_000) as u64;
            row.content_length = row.request_body;
            self.written(&mut row);
            self.push(row);
        }
        self.record_upload(at, Service::Blob, account, object, "AppendBlock", client, truth);
        at
    }

    /// `PutBlob` creating a page blob, then `PutPage` × `pages` of 4 MiB; returns the time of
    /// the last `PutPage`.
    fn page_upload(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        object: &str,
        pages: u64,
        truth: Truth,
    ) -> i64 {
        let mut create = self.request(time, client, account, Service::Blob, "PutBlob", object);
        self.written(&mut create);
        self.push(create);
        let mut at = time;
        for _ in 0..pages {
            at += self.span(seconds(1) / 5, seconds(2));
            let mut row = self.request(at, client, account, Service::Blob, "PutPage", object);
            row.query = String::from("comp=page");
            row.request_body = 4 * 1024 * 1024;
            row.content_length = row.request_body;
            row.duration_ms = 80 + self.rng.below(300);
            self.written(&mut row);
            self.push(row);
        }
        self.record_upload(at, Service::Blob, account, object, "PutPage", client, truth);
        at
    }

    fn copy_blob(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        source: &str,
        object: &str,
        truth: Truth,
    ) -> i64 {
        let mut row = self.request(time, client, account, Service::Blob, "CopyBlob", object);
        row.copy_source = format!("{}/{source}", ACCOUNTS[account].name);
        self.written(&mut row);
        self.push(row);
        self.record_upload(time, Service::Blob, account, object, "CopyBlob", client, truth);
        time
    }

    /// `CreatePathFile`, `AppendFile` × `chunks`, `FlushFile`; returns the time of the flush.
    fn datalake_upload(
        &mut self,
        client: &Client,
        time: i64,
        object: &str,
        chunks: u64,
        truth: Truth,
    ) -> i64 {
        let mut create = self.request(time, client, LAKE, Service::Dfs, "CreatePathFile", object);
        create.query = String::from("resource=file");
        self.written(&mut create);
        self.push(create);
        let mut at = time;
        let mut position = 0u64;
        for _ in 0..chunks {
            at += self.span(seconds(1) / 5, seconds(3));
            let size = self.rng.range(1_000_000, 4 * 1024 * 1024) as u64;
            let mut row = self.request(at, client, LAKE, Service::Dfs, "AppendFile", object);
            row.query = format!("action=append&position={position}");
            row.request_body = size;
            row.content_length = size;
            self.push(row);
            position += size;
        }
        at += self.span(seconds(1) / 10, seconds(1));
        let mut flush = self.request(at, client, LAKE, Service::Dfs, "FlushFile", object);
        flush.query = format!("action=flush&position={position}");
        self.written(&mut flush);
        self.push(flush);
        self.record_upload(at, Service::Dfs, LAKE, object, "FlushFile", client, truth);
        at
    }

    /// `CreateFile`, then `PutRange` × `ranges` on Azure Files; returns the time of the last
    /// `PutRange`.
    fn file_rest_upload(
        &mut self,
        client: &Client,
        time: i64,
        object: &str,
        ranges: u64,
        truth: Truth,
    ) -> i64 {
        let mut create = self.request(time, client, FILES, Service::File, "CreateFile", object);
        self.written(&mut create);
        self.push(create);
        let mut at = time;
        for _ in 0..ranges {
            at += self.span(seconds(1) / 10, seconds(2));
            let mut row = self.request(at, client, FILES, Service::File, "PutRange", object);
            row.query = String::from("comp=range");
            row.request_body = self.rng.range(100_000, 4 * 1024 * 1024) as u64;
            row.content_length = row.request_body;
            self.written(&mut row);
            self.push(row);
        }
        self.record_upload(at, Service::File, FILES, object, "PutRange", client, truth);
        at
    }

    /// SMB `Create`, `Write` × `writes` of 1 MiB, `Close`; returns the time of the last `Write`.
    fn smb_upload(
        &mut self,
        client: &Client,
        time: i64,
        object: &str,
        writes: u64,
        truth: Truth,
    ) -> i64 {
        let session = self.rng.next_u64() | 0x0000_0400_0000_0000;
        let file_id = self.rng.next_u64();
        let handle = self.rng.next_u64();
        let first_message = self.rng.range(40, 4000) as u64;
        let mut at = time;
        let mut last_write = time;
        let steps = writes + 2;
        for step in 0..steps {
            let (operation, major) = match step {
                0 => ("Create", 5),
                s if s + 1 == steps => ("Close", 6),
                _ => ("Write", 9),
            };
            let mut row = self.request(at, client, FILES, Service::Smb, operation, object);
            row.status = Status { code: "0", error: None };
            let detail = if operation == "Write" {
                let offset = (step - 1) * 1_048_576;
                row.request_body = 1_048_576;
                last_write = at;
                format!("Write 1048576 bytes at offset {offset}")
            } else {
                String::new()
            };
            let message = first_message + step;
            row.smb = Some(Smb { session, tree: 5, file_id, handle, message, major, detail });
            if operation != "Close" {
                row.last_modified = Some(truncate_to(at, TICKS_PER_SECOND));
            }
            self.push(row);
            at += self.span(seconds(1) / 100, seconds(1) / 2);
        }
        self.record_upload(last_write, Service::Smb, FILES, object, "Write", client, truth);
        last_write
    }

    /// Records a read or listing. `object` is `<container>/<path>`, `<container>` or empty.
    fn read(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        service: Service,
        operation: &'static str,
        object: &str,
    ) {
        let mut row = self.request(time, client, account, service, operation, object);
        row.query = match operation {
            "ListContainers" => "comp=list".to_string(),
            "ListBlobs" => "restype=container&comp=list".to_string(),
            "GetContainerProperties" => "restype=container".to_string(),
            "ListFilesAndDirectories" => "restype=directory&comp=list".to_string(),
            _ => String::new(),
        };
        row.response_body = match operation {
            "GetBlob" | "GetFile" => self.rng.range(2_000, 3_000_000) as u64,
            "ListBlobs" | "ListContainers" | "ListFilesAndDirectories" => {
                self.rng.range(400, 60_000) as u64
            }
            _ => 0,
        };
        if matches!(operation, "GetBlob" | "GetFile") && self.rng.chance(0.5) {
            row.response_md5 = self.rng.next_u64();
        }
        if matches!(operation, "GetBlob" | "GetBlobProperties" | "GetFile" | "GetFileProperties") {
            row.etag = self.rng.next_u64();
            row.last_modified = Some(truncate_to(
                time - self.span(minutes(30), 40 * TICKS_PER_DAY),
                TICKS_PER_SECOND,
            ));
        }
        self.push(row);
    }

    /// Records a request that failed with an HTTP error and its REST error name.
    fn failure(
        &mut self,
        client: &Client,
        time: i64,
        account: usize,
        operation: &'static str,
        object: &str,
        code: &'static str,
        error: &'static str,
    ) {
        let mut row = self.request(time, client, account, Service::Blob, operation, object);
        row.status = Status { code, error: Some(error) };
        row.response_body = self.rng.range(200, 260) as u64;
        if operation == "PutBlob" {
            row.request_body = self.rng.range(10_000, 900_000) as u64;
            row.content_length = row.request_body;
            if code == "409" {
                row.conditions = "If-None-Match=*";
            }
        }
        self.push(row);
    }

    /// Records a write rejected with 403. OAuth callers without a data role get
    /// `AuthorizationPermissionMismatch`, and key or SAS callers with an expired or wrong
    /// signature get `AuthenticationFailed`.
    fn denied_write(&mut self, client: &Client, time: i64, account: usize) {
        let error = match client.credential {
            Credential::OAuth { .. } => "AuthorizationPermissionMismatch",
            _ => "AuthenticationFailed",
        };
        let object = format!("restricted/{}.xlsx", self.rng.below(500));
        self.failure(client, time, account, "PutBlob", &object, "403", error);
    }

    /// Records a few reads of the kind a user's tool makes while browsing a container.
    fn browse(
        &mut self,
        client: &Client,
        from: i64,
        to: i64,
        account: usize,
        container: &str,
        count: u32,
    ) {
        for _ in 0..count {
            let time = self.span(from, to);
            let operation = *self.rng.pick(&[
                "ListBlobs",
                "GetBlobProperties",
                "GetBlob",
                "GetBlob",
                "GetContainerProperties",
                "ListContainers",
            ]);
            let object = match operation {
                "ListContainers" => String::new(),
                "ListBlobs" | "GetContainerProperties" => container.to_string(),
                _ => format!(
                    "{container}/shared/{}-{}.pdf",
                    self.rng.pick(&DOCUMENT_STEMS),
                    self.rng.below(40)
                ),
            };
            self.read(client, time, account, Service::Blob, operation, &object);
        }
    }

    // --- background activity ---

    fn choose_non_interactive_users(&mut self) {
        let count = DAILY_INSTANCES
            .iter()
            .find(|(scenario, _)| *scenario == Scenario::NonInteractiveOnly)
            .map_or(0, |(_, count)| *count);
        let mut chosen = 0;
        while chosen < count {
            let user = self.rng.below(CROWD_START as u64) as usize;
            if !self.no_interactive[user] {
                self.no_interactive[user] = true;
                chosen += 1;
            }
        }
    }

    fn regular_sessions(&mut self) {
        for user in 0..CROWD_START {
            let sessions = match self.rng.below(100) {
                0..=14 => 0,
                15..=64 => 1,
                _ => 2,
            };
            for _ in 0..sessions {
                self.user_session(user);
            }
        }
    }

    /// Simulates a working session: sign-in, token refreshes, browsing, and sometimes uploads.
    fn user_session(&mut self, user: usize) {
        let address = self.session_address(user);
        let start = self.at(7.0, 20.0);
        let end =
            (start + self.span(minutes(30), minutes(240))).min(self.start + LAST_UPLOAD_OF_DAY);
        let tool = *self.rng.pick(&[
            Tool::Portal,
            Tool::Portal,
            Tool::AzureCli,
            Tool::AzCopy,
            Tool::StorageExplorer,
            Tool::PythonSdk,
            Tool::PowerShell,
        ]);
        // Storage Explorer works with a SAS taken from the portal, so its user keeps a browser
        // session in the portal.
        let (app, refresh_agent) = match tool {
            Tool::Portal | Tool::StorageExplorer => (&APP_PORTAL, self.world.users[user].browser),
            Tool::PowerShell => (&APP_POWERSHELL, POWERSHELL_TOKEN_AGENT),
            _ => (&APP_CLI, CLI_TOKEN_AGENT),
        };

        if !self.no_interactive[user] {
            if self.rng.chance(0.08) {
                let interrupted = start - self.span(seconds(20), seconds(60));
                self.failed_signin(interrupted, user, address, SigninResult::MfaRequired);
            }
            self.interactive(start, user, address, app);
        }
        let mut refresh_at = start + self.span(minutes(3), minutes(12));
        while refresh_at < end {
            self.refresh(refresh_at, user, address, app, refresh_agent);
            refresh_at += self.span(minutes(4), minutes(15));
        }

        let client = self.user_client(user, tool, address, 0.3);
        let account = if tool == Tool::Portal { DOCS } else { DATA };
        let reads = self.rng.range(8, 40) as u32;
        self.browse(&client, start + seconds(5), end, account, "shared", reads);
        if self.rng.chance(0.15) {
            let time = self.span(start, end);
            let object = format!("shared/archive/{}.pdf", self.rng.below(900));
            self.failure(&client, time, account, "GetBlob", &object, "404", "BlobNotFound");
        }
        if self.rng.chance(0.1) {
            let time = self.span(start, end);
            self.denied_write(&client, time, account);
        }

        let uploads = match self.rng.below(100) {
            0..=34 => 0,
            35..=69 => 1,
            70..=89 => 2,
            _ => 3,
        };
        let truth = Truth { uploader: Principal::User(user), scenario: Scenario::Background };
        for _ in 0..uploads {
            let time = self.span(start + seconds(30), end);
            let object = self.object_name("shared/", &DOCUMENT_STEMS, &DOCUMENT_EXTENSIONS);
            if tool != Tool::Portal && self.rng.chance(0.3) {
                let blocks = self.rng.range(2, 6) as u64;
                self.block_upload(&client, time, account, &object, blocks, 8 * 1024 * 1024, truth);
            } else {
                let size = self.rng.range(18_000, 6_000_000) as u64;
                self.put_blob(&client, time, account, &object, size, truth);
            }
            if self.rng.chance(0.08) {
                let retry = time + self.span(seconds(2), seconds(30));
                self.failure(
                    &client,
                    retry,
                    account,
                    "PutBlob",
                    &object,
                    "409",
                    "BlobAlreadyExists",
                );
            }
        }
    }

    /// Simulates the 40 crowd users, who sign in from the busy NAT through the day and browse a
    /// little.
    fn crowd_activity(&mut self) {
        for user in CROWD_START..USER_COUNT {
            let signins = self.rng.range(2, 5);
            for _ in 0..signins {
                let start = self.at(7.0, 19.0);
                if self.rng.chance(0.03) {
                    let failed_at = start - self.span(seconds(5), seconds(40));
                    self.failed_signin(failed_at, user, BUSY_NAT, SigninResult::BadPassword);
                }
                self.interactive(start, user, BUSY_NAT, &APP_PORTAL);
                let browser = self.world.users[user].browser;
                let mut refresh_at = start;
                for _ in 0..self.rng.range(3, 8) {
                    refresh_at += self.span(minutes(5), minutes(30));
                    self.refresh(refresh_at, user, BUSY_NAT, &APP_PORTAL, browser);
                }
                let client = self.user_client(user, Tool::Portal, BUSY_NAT, 0.0);
                let reads = self.rng.range(0, 4) as u32;
                self.browse(
                    &client,
                    start + seconds(5),
                    start + minutes(40),
                    DOCS,
                    "team-share",
                    reads,
                );
            }
        }
    }

    /// Simulates a web app in a VNet that reads product images with the account key all day.
    fn web_app_traffic(&mut self) {
        let requests = self.rng.range(5_700, 6_300);
        for _ in 0..requests {
            let host = self.rng.range(4, 10) as u8;
            let address = Address::V4 {
                ip: Ipv4Addr::new(10, 1, 0, host),
                port: self.rng.range(32_768, 61_000) as u16,
            };
            let client = Client {
                address,
                agent: DOTNET_BLOB_LINUX,
                referrer: "",
                credential: Credential::AccountKey { key: 1 },
                explicit_port: true,
                version: "2025-05-05",
                tls: "TLS 1.2",
            };
            let time = self.at(0.0, 24.0);
            let object = format!("product-images/images/sku-{}.jpg", self.rng.below(5_000));
            if self.rng.chance(0.02) {
                self.failure(&client, time, WEB, "GetBlob", &object, "404", "BlobNotFound");
            } else {
                let operation = if self.rng.chance(0.3) { "GetBlobProperties" } else { "GetBlob" };
                self.read(&client, time, WEB, Service::Blob, operation, &object);
            }
        }
    }

    /// Simulates anonymous visitors and scanners reading the static website.
    fn static_site_reads(&mut self) {
        let requests = self.rng.range(800, 1_000);
        for _ in 0..requests {
            let ip = self.outside_pool_address();
            let scanner = self.rng.chance(0.05);
            let agent = if scanner { SCANNER } else { self.rng.pick(&BROWSERS).text };
            let address = self.https(ip, scanner);
            let client = Client {
                address,
                agent,
                referrer: if scanner { "" } else { "https://www.contoso.com/" },
                credential: Credential::Anonymous,
                explicit_port: false,
                version: "2009-09-19",
                tls: "TLS 1.3",
            };
            let time = self.at(0.0, 24.0);
            if scanner {
                let object = format!(
                    "$web/{}",
                    self.rng.pick(&[".env", "wp-login.php", "backup.zip", ".git/config"])
                );
                self.failure(&client, time, WEB, "GetBlob", &object, "404", "BlobNotFound");
            } else {
                let page = self.rng.pick(&[
                    "index.html",
                    "css/site.css",
                    "js/app.js",
                    "images/logo.svg",
                    "about/index.html",
                ]);
                self.read(&client, time, WEB, Service::Blob, "GetBlob", &format!("$web/{page}"));
            }
        }
    }

    /// Records failed password guesses from outside addresses.
    fn password_spray(&mut self) {
        for _ in 0..self.rng.range(20, 40) {
            let user = self.rng.below(USER_COUNT as u64) as usize;
            let ip = self.outside_pool_address();
            let time = self.at(0.5, 23.5);
            self.failed_signin(time, user, ip, SigninResult::BadPassword);
        }
    }

    /// Simulates CI runs: the pipeline's service principal signs in from an agent, then uploads
    /// artifacts with OAuth or with a SAS.
    fn pipeline_runs(&mut self) {
        let mut run_start = self.start + self.span(minutes(5), minutes(40));
        let mut run = 0;
        while run_start < self.start + hours(23.5) {
            run += 1;
            let agent_ip = *self.rng.pick(&CI_AGENTS);
            let vault_at = run_start - self.span(seconds(20), seconds(50));
            self.workload_signin(vault_at, CI_PIPELINE, agent_ip, &RESOURCE_KEY_VAULT);
            self.workload_signin(run_start, CI_PIPELINE, agent_ip, &RESOURCE_STORAGE);

            let token = self.rng.next_u64();
            let oauth = Credential::OAuth {
                principal: Principal::Workload(CI_PIPELINE),
                app: &APP_PORTAL,
                token,
            };
            let credential = if self.rng.chance(0.5) { oauth } else { self.sas(false) };
            let address = self.https(agent_ip, true);
            let agent = if self.rng.chance(0.5) { AZCOPY_LINUX } else { JS_BLOB };
            let client = self.service_client(address, agent, credential);
            let truth = Truth {
                uploader: Principal::Workload(CI_PIPELINE),
                scenario: Scenario::CiArtifact,
            };
            let pipeline = *self.rng.pick(&["web-frontend", "billing-api", "mobile-app"]);
            let build = format!("{}.{run}", date_text(self.start, ""));

            let mut at = run_start + self.span(minutes(1), minutes(6));
            for _ in 0..self.rng.range(1, 4) {
                let kind = *self.rng.pick(&["artifact", "build", "package"]);
                self.upload_sequence += 1;
                let object =
                    format!("builds/{pipeline}/{build}/{kind}-{}.zip", self.upload_sequence);
                at = if self.rng.chance(0.3) {
                    let blocks = self.rng.range(2, 8) as u64;
                    self.block_upload(&client, at, BUILD, &object, blocks, 4 * 1024 * 1024, truth)
                } else {
                    let size = self.rng.range(200_000, 60_000_000) as u64;
                    self.put_blob(&client, at, BUILD, &object, size, truth)
                };
                at += self.span(seconds(2), seconds(40));
            }
            run_start += self.span(minutes(35), minutes(60));
        }
    }

    fn monitoring_signins(&mut self) {
        let mut at = self.start + self.span(0, minutes(15));
        while at < self.start + TICKS_PER_DAY - seconds(30) {
            let resource = if self.rng.chance(0.5) { &RESOURCE_GRAPH } else { &RESOURCE_ARM };
            self.workload_signin(at, MONITORING, MONITORING_ADDRESS, resource);
            at += self.span(minutes(13), minutes(17));
        }
    }

    /// Simulates the nightly backup. The backup agent fetches its key from Key Vault through the
    /// public egress, then VMs in the VNet upload backups and snapshots with the account key.
    fn nightly_backups(&mut self) {
        let begin = self.at(1.0, 1.5);
        self.workload_signin(begin, BACKUP_AGENT, BACKUP_EGRESS, &RESOURCE_KEY_VAULT);
        let truth =
            Truth { uploader: Principal::Workload(BACKUP_AGENT), scenario: Scenario::BackupJob };
        let mut at = begin + self.span(minutes(1), minutes(5));
        for server in ["sql01", "sql02", "app01", "app02", "file01", "dc01"] {
            let host = self.rng.range(4, 10) as u8;
            let address = Address::V4 {
                ip: Ipv4Addr::new(10, 20, 0, host),
                port: self.rng.range(49_152, 65_536) as u16,
            };
            let client = self.service_client(
                address,
                DOTNET_BLOB_WINDOWS,
                Credential::AccountKey { key: 2 },
            );
            let date = date_text(self.start, "-");
            self.upload_sequence += 1;
            let full = format!("backup/{server}/{date}/full-{}.bak", self.upload_sequence);
            let blocks = self.rng.range(4, 12) as u64;
            at = self.block_upload(&client, at, BACKUP, &full, blocks, 4 * 1024 * 1024, truth);
            self.upload_sequence += 1;
            let snapshot =
                format!("backup/{server}/{date}/snapshot-{}.vhdx.meta", self.upload_sequence);
            at += self.span(seconds(5), seconds(60));
            let size = self.rng.range(2_000, 90_000) as u64;
            self.put_blob(&client, at, BACKUP, &snapshot, size, truth);
            at += self.span(minutes(2), minutes(9));
        }
    }

    /// Simulates log shipping: shortly after midnight each web server uploads yesterday's rotated
    /// log as an append blob. Two servers use a managed identity (OAuth), two a SAS from a
    /// private address.
    fn log_shipping(&mut self) {
        let yesterday = date_text(self.start - TICKS_PER_DAY, "");
        for (number, host) in ["web01", "web02", "web03", "web04"].into_iter().enumerate() {
            let ip = Ipv4Addr::new(10, 1, 2, 4 + number as u8);
            let address = Address::V4 { ip, port: self.rng.range(32_768, 61_000) as u16 };
            let (credential, uploader) = if number >= 2 {
                let identity = LOG_SHIPPER_IDENTITIES[number - 2];
                let token = self.rng.next_u64();
                (
                    Credential::OAuth {
                        principal: Principal::Workload(identity),
                        app: &APP_PORTAL,
                        token,
                    },
                    identity,
                )
            } else {
                (self.sas(false), LOG_SHIPPER_SAS)
            };
            let client = self.service_client(address, FLUENT_BIT, credential);
            let truth =
                Truth { uploader: Principal::Workload(uploader), scenario: Scenario::LogShipping };
            let object = format!("{host}/logs/app-{yesterday}.log");
            let time = self.at(0.08, 0.5);
            let appends = self.rng.range(3, 9) as u64;
            self.append_upload(&client, time, LOGS, &object, appends, truth);
        }
    }

    /// Simulates Azure File Sync, which mirrors new files of the file server to the `corp` share
    /// and reads some.
    fn file_sync(&mut self) {
        let truth = Truth {
            uploader: Principal::Workload(FILE_SYNC_SERVICE),
            scenario: Scenario::FileSync,
        };
        for _ in 0..self.rng.range(12, 18) {
            let address = self.https(FILE_SYNC_SERVER, false);
            let credential = self.sas(true);
            let client = self.service_client(address, FILE_SYNC_AGENT, credential);
            let time = self.at(6.0, 22.0);
            let object = self.object_name("corp/Finance/", &DOCUMENT_STEMS, &DOCUMENT_EXTENSIONS);
            let ranges = self.rng.range(1, 4) as u64;
            self.file_rest_upload(&client, time, &object, ranges, truth);
        }
        for _ in 0..self.rng.range(250, 350) {
            let address = self.https(FILE_SYNC_SERVER, false);
            let credential = self.sas(true);
            let client = self.service_client(address, FILE_SYNC_AGENT, credential);
            let time = self.at(0.0, 24.0);
            let operation =
                *self.rng.pick(&["GetFileProperties", "ListFilesAndDirectories", "GetFile"]);
            let object = match operation {
                "ListFilesAndDirectories" => "corp/Finance".to_string(),
                _ => format!("corp/Finance/ledger-{}.xlsx", self.rng.below(300)),
            };
            self.read(&client, time, FILES, Service::File, operation, &object);
        }
    }

    /// Records Kerberos SMB reads from the office network.
    fn smb_reads(&mut self) {
        for _ in 0..self.rng.range(80, 110) {
            let user = self.rng.below(CROWD_START as u64) as usize;
            let ip =
                Ipv4Addr::new(10, 40, self.rng.range(1, 4) as u8, self.rng.range(10, 250) as u8);
            let client = Client {
                address: Address::Bare(IpAddr::V4(ip)),
                agent: "",
                referrer: "",
                credential: Credential::Kerberos { user },
                explicit_port: false,
                version: "3.1.1",
                tls: "",
            };
            let time = self.at(7.0, 19.0);
            let object = format!("projects/plans/site-{}.pdf", self.rng.below(200));
            let session = self.rng.next_u64() | 0x0000_0400_0000_0000;
            let file_id = self.rng.next_u64();
            let handle = self.rng.next_u64();
            let first_message = self.rng.range(40, 4000) as u64;
            for (step, (operation, major)) in
                [("Create", 5), ("Read", 8), ("Close", 6)].into_iter().enumerate()
            {
                let at = time + seconds(step as i64) / 20;
                let mut row = self.request(at, &client, FILES, Service::Smb, operation, &object);
                row.status = Status { code: "0", error: None };
                let detail = if operation == "Read" {
                    row.response_body = 65_536;
                    "Read 65536 bytes at offset 0".to_string()
                } else {
                    String::new()
                };
                let message = first_message + step as u64;
                row.smb = Some(Smb { session, tree: 5, file_id, handle, message, major, detail });
                self.push(row);
            }
        }
    }

    // --- scenario instances ---

    /// Places uploads by crowd users at the busy NAT, each after one of the uploader's sign-ins
    /// with no other sign-in from the NAT in between.
    fn busy_nat_uploads(&mut self) {
        let busy = IpAddr::V4(BUSY_NAT);
        let mut at_nat: Vec<(i64, Principal, SigninTable, SigninResult)> = self
            .signins
            .iter()
            .filter(|row| row.address == busy)
            .map(|row| (row.created, row.principal, row.table, row.result))
            .collect();
        at_nat.sort_by_key(|entry| entry.0);

        let mut candidates: Vec<(i64, usize, i64)> = Vec::new();
        for pair in at_nat.windows(2) {
            let (created, principal, table, result) = pair[0];
            let gap = pair[1].0 - created;
            if let (Principal::User(user), SigninTable::Interactive, SigninResult::Success) =
                (principal, table, result)
            {
                if gap >= seconds(90) {
                    candidates.push((created, user, gap));
                }
            }
        }
        for _ in 0..BUSY_NAT_UPLOADS_PER_DAY.min(candidates.len()) {
            let chosen = self.rng.below(candidates.len() as u64) as usize;
            let (created, user, gap) = candidates.swap_remove(chosen);
            let time = created + self.span(seconds(20), (gap - seconds(30)).min(minutes(20)));
            let tool = if self.rng.chance(0.5) { Tool::Portal } else { self.upload_tool() };
            let client = self.user_client(user, tool, BUSY_NAT, 0.0);
            let object = self.object_name("team-share/", &DOCUMENT_STEMS, &DOCUMENT_EXTENSIONS);
            let size = self.rng.range(20_000, 4_000_000) as u64;
            let truth = Truth { uploader: Principal::User(user), scenario: Scenario::BusyNat };
            self.put_blob(&client, time, DOCS, &object, size, truth);
        }
    }

    fn instance(&mut self, scenario: Scenario) {
        let user = self.scenario_user();
        let truth = Truth { uploader: Principal::User(user), scenario };
        let time = self.at(7.0, 21.5);
        match scenario {
            Scenario::PortalUpload | Scenario::PortalDocument => {
                self.portal_upload(user, time, truth)
            }
            Scenario::SdkUpload | Scenario::BlockUpload => self.tool_upload(user, time, truth),
            Scenario::OauthSharedNat => self.oauth_shared_nat(user, time, truth),
            Scenario::Ipv6Forms => self.ipv6_upload(user, time, truth),
            Scenario::Ipv4Mapped => self.ipv4_mapped_upload(user, time, truth),
            Scenario::NonInteractiveOnly => self.non_interactive_only(time),
            Scenario::SigninIngestLag => self.ingest_lag_upload(user, time, truth),
            Scenario::SigninAfterUpload => self.signin_after_upload(user, time, truth),
            Scenario::FailedSigninNearby => self.failed_signin_nearby(user, time, truth),
            Scenario::PrivateEndpoint | Scenario::RedactedCaller | Scenario::EmptyCaller => {
                self.hidden_caller(user, time, truth)
            }
            Scenario::DataLakeUpload => self.datalake_instance(user, time, truth),
            Scenario::FileRestUpload => self.file_rest_instance(user, time, truth),
            Scenario::SmbWrite => self.smb_instance(user, time, truth),
            Scenario::PageBlob | Scenario::CopyBlob => self.page_or_copy(user, time, truth),
            _ => unreachable!("{scenario:?} is not placed as an instance"),
        }
    }

    /// Places a browser sign-in to the portal, browsing, then `PutBlob` 5-50 s after the sign-in
    /// with the browser's user agent. Document uploads sometimes use Storage Explorer instead.
    fn portal_upload(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        let explorer = truth.scenario == Scenario::PortalDocument && self.rng.chance(0.3);
        self.interactive(time, user, ip, &APP_PORTAL);
        let tool = if explorer { Tool::StorageExplorer } else { Tool::Portal };
        let client = self.user_client(user, tool, ip, 0.0);
        self.browse(&client, time + seconds(2), time + seconds(5), DOCS, "documents", 2);
        let upload_at = time + self.span(seconds(5), seconds(50));
        let object = if truth.scenario == Scenario::PortalDocument {
            self.object_name("documents/", &DOCUMENT_STEMS, &["docx", "xlsx"])
        } else {
            self.object_name("uploads/", &MEDIA_STEMS, &MEDIA_EXTENSIONS)
        };
        let size = self.rng.range(15_000, 8_000_000) as u64;
        self.put_blob(&client, upload_at, DOCS, &object, size, truth);
        let refresh_at = time + self.span(minutes(10), minutes(40));
        let browser = self.world.users[user].browser;
        self.refresh(refresh_at, user, ip, &APP_PORTAL, browser);
    }

    /// Places `az login` in the browser, then a tool upload 2-60 min later with a key or SAS, so
    /// the user agents of sign-in and upload differ. Block uploads use 8 MiB blocks.
    fn tool_upload(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        self.interactive(time, user, ip, &APP_CLI);
        let upload_at = time + self.span(minutes(2), minutes(60));
        if self.rng.chance(0.5) {
            let refresh_at = time + (upload_at - time) / 2;
            self.refresh(refresh_at, user, ip, &APP_CLI, CLI_TOKEN_AGENT);
        }
        let tool = self.upload_tool();
        let client = self.user_client(user, tool, ip, 0.0);
        let object = self.object_name("exports/", &DATA_STEMS, &DATA_EXTENSIONS);
        let probe = upload_at - self.span(seconds(1), seconds(3));
        self.failure(&client, probe, DATA, "GetBlobProperties", &object, "404", "BlobNotFound");
        if truth.scenario == Scenario::BlockUpload {
            let blocks = self.rng.range(3, 13) as u64;
            self.block_upload(&client, upload_at, DATA, &object, blocks, 8 * 1024 * 1024, truth);
        } else {
            let size = self.rng.range(50_000, 200_000_000) as u64;
            self.put_blob(&client, upload_at, DATA, &object, size, truth);
        }
    }

    /// Places an OAuth upload from the office NAT seconds after a colleague signed in there.
    /// The uploader's own sign-in at the office, if any, was hours earlier.
    fn oauth_shared_nat(&mut self, user: usize, time: i64, truth: Truth) {
        let colleague = self.other_user(user);
        let colleague_at = time - self.span(seconds(10), seconds(60));
        self.interactive(colleague_at, colleague, HQ_NAT, &APP_PORTAL);
        if self.rng.chance(0.5) && time > self.start + hours(10.0) {
            let earlier = time - self.span(hours(3.0), hours(6.0));
            self.interactive(earlier, user, HQ_NAT, &APP_CLI);
        }
        let tool = if self.rng.chance(0.5) { Tool::AzureCli } else { Tool::PythonSdk };
        let client = self.user_client(user, tool, HQ_NAT, 1.0);
        let object = self.object_name("exports/", &DATA_STEMS, &DATA_EXTENSIONS);
        let size = self.rng.range(10_000, 30_000_000) as u64;
        self.put_blob(&client, time, DATA, &object, size, truth);
    }

    /// Places an upload from an IPv6 caller. Storage writes `[v6]:port` or the compressed
    /// address without a port, and the sign-in writes all eight groups.
    fn ipv6_upload(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.ipv6_address();
        let signin_at = time - self.span(minutes(1), minutes(40));
        let browser = self.world.users[user].browser;
        let row = self.push_signin(
            SigninTable::Interactive,
            signin_at,
            Principal::User(user),
            IpAddr::V6(ip),
            &APP_PORTAL,
            &RESOURCE_ARM,
            browser,
        );
        row.address_text = uncompressed_ipv6(ip);
        let tool = if self.rng.chance(0.5) { Tool::Portal } else { Tool::StorageExplorer };
        let mut client = self.user_client(user, tool, Ipv4Addr::UNSPECIFIED, 0.0);
        let port =
            if self.rng.chance(0.5) { Some(self.rng.range(49_152, 65_536) as u16) } else { None };
        client.address = Address::V6 { ip, port };
        let object = self.object_name("uploads/", &MEDIA_STEMS, &MEDIA_EXTENSIONS);
        let size = self.rng.range(30_000, 9_000_000) as u64;
        self.put_blob(&client, time, DOCS, &object, size, truth);
    }

    /// Places a sign-in written as the IPv4-mapped IPv6 `::ffff:a.b.c.d` and an upload from
    /// `a.b.c.d:port`.
    fn ipv4_mapped_upload(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.pool_address();
        let signin_at = time - self.span(minutes(1), minutes(30));
        self.interactive(signin_at, user, ip, &APP_PORTAL).address_text = format!("::ffff:{ip}");
        let client = self.user_client(user, Tool::Portal, ip, 0.0);
        let object = self.object_name("uploads/", &MEDIA_STEMS, &MEDIA_EXTENSIONS);
        let size = self.rng.range(30_000, 9_000_000) as u64;
        self.put_blob(&client, time, DOCS, &object, size, truth);
    }

    /// Places an upload by a user with no interactive sign-in today, so only token refreshes
    /// link them to the address.
    fn non_interactive_only(&mut self, time: i64) {
        let candidates: Vec<usize> =
            (0..CROWD_START).filter(|user| self.no_interactive[*user]).collect();
        let user = *self.rng.pick(&candidates);
        let truth =
            Truth { uploader: Principal::User(user), scenario: Scenario::NonInteractiveOnly };
        let ip = self.pool_address();
        let (app, agent, tool) = if self.rng.chance(0.5) {
            (&APP_POWERSHELL, POWERSHELL_TOKEN_AGENT, Tool::PowerShell)
        } else {
            (&APP_CLI, CLI_TOKEN_AGENT, Tool::AzureCli)
        };
        let first = time - self.span(minutes(3), minutes(40));
        self.refresh(first, user, ip, app, agent);
        let later = time + self.span(minutes(10), minutes(60));
        self.refresh(later, user, ip, app, agent);
        let client = self.user_client(user, tool, ip, 0.0);
        let object = self.object_name("exports/", &DATA_STEMS, &DATA_EXTENSIONS);
        let size = self.rng.range(50_000, 90_000_000) as u64;
        self.put_blob(&client, time, DATA, &object, size, truth);
    }

    /// Places an upload 10-50 s after a sign-in's `CreatedDateTime`, whose `TimeGenerated` lags
    /// by 60-120 s and so falls after the upload.
    fn ingest_lag_upload(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        let before = self.span(seconds(10), seconds(50));
        let lag = self.span((before + seconds(10)).max(seconds(60)), seconds(120));
        let row = self.interactive(time - before, user, ip, &APP_PORTAL);
        row.generated = row.created + lag;
        let client = self.user_client(user, Tool::Portal, ip, 0.0);
        let object = self.object_name("uploads/", &MEDIA_STEMS, &MEDIA_EXTENSIONS);
        let size = self.rng.range(30_000, 5_000_000) as u64;
        self.put_blob(&client, time, DOCS, &object, size, truth);
    }

    /// Places an upload whose only sign-in from the address is stamped 2-30 s later (clock
    /// skew).
    fn signin_after_upload(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        let tool = self.upload_tool();
        let client = self.user_client(user, tool, ip, 0.0);
        let object = self.object_name("exports/", &DATA_STEMS, &DATA_EXTENSIONS);
        let size = self.rng.range(30_000, 50_000_000) as u64;
        self.put_blob(&client, time, DATA, &object, size, truth);
        let signin_at = time + self.span(seconds(2), seconds(30));
        self.interactive(signin_at, user, ip, &APP_CLI);
    }

    /// Places a colleague's failed sign-in (50126) from the uploader's address 5-60 s before the
    /// upload. Half the instances also have the uploader's own sign-in 10-80 min earlier.
    fn failed_signin_nearby(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.pool_address();
        let with_own_signin = self.rng.chance(0.5);
        if with_own_signin {
            let signin_at = time - self.span(minutes(10), minutes(80));
            self.interactive(signin_at, user, ip, &APP_PORTAL);
        }
        let colleague = self.other_user(user);
        let failed_at = time - self.span(seconds(5), seconds(60));
        self.failed_signin(failed_at, colleague, ip, SigninResult::BadPassword);
        let tool = if with_own_signin { Tool::Portal } else { Tool::AzCopy };
        let client = self.user_client(user, tool, ip, 0.0);
        let object = self.object_name("documents/", &DOCUMENT_STEMS, &DOCUMENT_EXTENSIONS);
        let size = self.rng.range(30_000, 5_000_000) as u64;
        self.put_blob(&client, time, DOCS, &object, size, truth);
    }

    /// Places a sign-in from a public address and an upload whose `CallerIpAddress` is a private
    /// endpoint address, `<Redacted>:port` or empty.
    fn hidden_caller(&mut self, user: usize, time: i64, truth: Truth) {
        let public = self.pool_address();
        let signin_at = time - self.span(minutes(1), minutes(30));
        self.interactive(signin_at, user, public, &APP_CLI);
        let mut client = self.user_client(user, Tool::AzCopy, public, 0.0);
        client.address = match truth.scenario {
            Scenario::PrivateEndpoint => {
                let ip = Ipv4Addr::new(10, 30, 1, self.rng.range(10, 250) as u8);
                self.https(ip, false)
            }
            Scenario::RedactedCaller => {
                Address::Redacted { port: self.rng.range(49_152, 65_536) as u16 }
            }
            _ => Address::Empty,
        };
        let object = self.object_name("exports/", &DATA_STEMS, &DATA_EXTENSIONS);
        let size = self.rng.range(50_000, 80_000_000) as u64;
        self.put_blob(&client, time, DATA, &object, size, truth);
    }

    fn datalake_instance(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        let signin_at = time - self.span(minutes(5), minutes(50));
        self.interactive(signin_at, user, ip, &APP_CLI);
        let mut client = self.user_client(user, Tool::PythonSdk, ip, 0.0);
        client.agent = PYTHON_DATALAKE;
        let object = self.object_name("raw/ingest/", &DATA_STEMS, &["parquet", "csv"]);
        let chunks = self.rng.range(1, 6) as u64;
        self.datalake_upload(&client, time, &object, chunks, truth);
    }

    fn file_rest_instance(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        let signin_at = time - self.span(minutes(2), minutes(45));
        self.interactive(signin_at, user, ip, &APP_PORTAL);
        let tool = if self.rng.chance(0.5) { Tool::StorageExplorer } else { Tool::PythonSdk };
        let mut client = self.user_client(user, tool, ip, 0.0);
        if tool == Tool::PythonSdk {
            client.agent = DOTNET_FILES;
        }
        let object = self.object_name("projects/shared/", &DOCUMENT_STEMS, &DOCUMENT_EXTENSIONS);
        let ranges = self.rng.range(1, 5) as u64;
        self.file_rest_upload(&client, time, &object, ranges, truth);
    }

    /// Places an SMB write with Kerberos from the office network or from the branch office over
    /// the internet. No Entra sign-in exists for it.
    fn smb_instance(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = if self.rng.chance(0.5) {
            Ipv4Addr::new(10, 40, self.rng.range(1, 4) as u8, self.rng.range(10, 250) as u8)
        } else {
            BRANCH_OFFICE
        };
        let client = Client {
            address: Address::Bare(IpAddr::V4(ip)),
            agent: "",
            referrer: "",
            credential: Credential::Kerberos { user },
            explicit_port: false,
            version: "3.1.1",
            tls: "",
        };
        let object = self.object_name("projects/plans/", &DOCUMENT_STEMS, &DOCUMENT_EXTENSIONS);
        let writes = self.rng.range(1, 6) as u64;
        self.smb_upload(&client, time, &object, writes, truth);
    }

    /// Places a VHD page blob upload with AzCopy, or a server-side copy, after a CLI sign-in.
    fn page_or_copy(&mut self, user: usize, time: i64, truth: Truth) {
        let ip = self.scenario_address();
        let signin_at = time - self.span(minutes(3), minutes(30));
        self.interactive(signin_at, user, ip, &APP_CLI);
        let tool = if truth.scenario == Scenario::PageBlob { Tool::AzCopy } else { Tool::AzureCli };
        let client = self.user_client(user, tool, ip, 0.0);
        if truth.scenario == Scenario::PageBlob {
            let object = self.object_name("vhds/", &["disk-os", "disk-data"], &["vhd"]);
            let pages = self.rng.range(4, 16) as u64;
            self.page_upload(&client, time, DATA, &object, pages, truth);
        } else {
            let source =
                format!("exports/{}/customers.csv", date_text(self.start - TICKS_PER_DAY, "-"));
            let object = self.object_name("archive/", &DATA_STEMS, &DATA_EXTENSIONS);
            self.copy_blob(&client, time, DATA, &source, &object, truth);
        }
    }

    /// Places uploads on day 0 between 00:20 and 03:30, before the sign-in export starts at
    /// 05:00.
    fn uploads_before_signin_export(&mut self) {
        for _ in 0..EARLY_UPLOADS_PER_SCALE * self.scale {
            let user = self.rng.below(CROWD_START as u64) as usize;
            let truth =
                Truth { uploader: Principal::User(user), scenario: Scenario::BeforeSigninExport };
            let ip = self.outside_pool_address();
            let tool = if self.rng.chance(0.5) { Tool::Portal } else { Tool::AzCopy };
            let client = self.user_client(user, tool, ip, 0.0);
            let time = self.at(0.33, 3.5);
            let object = self.object_name("uploads/", &MEDIA_STEMS, &MEDIA_EXTENSIONS);
            let size = self.rng.range(30_000, 9_000_000) as u64;
            self.put_blob(&client, time, DOCS, &object, size, truth);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Row layouts

/// Per-row texts built once and shared by the layouts.
#[derive(Default)]
struct StorageText {
    uri: String,
    caller: String,
    correlation: String,
    hash: String,
    requester_object: String,
    requester_tenant: String,
    requester_app: String,
    requester_audience: &'static str,
    requester_issuer: String,
    requester_upn: String,
    requester_user_name: String,
    smb_sid: String,
    authorization: String,
    client_request: String,
    etag: String,
    request_md5: String,
    response_md5: String,
    object_key: String,
    source_uri: String,
    metric: String,
}

impl StorageText {
    fn clear(&mut self) {
        for text in [
            &mut self.uri,
            &mut self.caller,
            &mut self.correlation,
            &mut self.hash,
            &mut self.requester_object,
            &mut self.requester_tenant,
            &mut self.requester_app,
            &mut self.requester_issuer,
            &mut self.requester_upn,
            &mut self.requester_user_name,
            &mut self.smb_sid,
            &mut self.authorization,
            &mut self.client_request,
            &mut self.etag,
            &mut self.request_md5,
            &mut self.response_md5,
            &mut self.object_key,
            &mut self.source_uri,
        ] {
            text.clear();
        }
        self.requester_audience = "";
    }

    fn fill(&mut self, row: &StorageRow, world: &World) {
        self.clear();
        push_uri(&mut self.uri, row);
        row.address.push_text(&mut self.caller);
        let _ = write!(self.correlation, "{}", row.correlation);
        push_authentication_hash(&mut self.hash, row, world);
        self.fill_requester(row, world);
        let sends_request_id =
            !matches!(row.credential, Credential::Anonymous | Credential::Kerberos { .. });
        if sends_request_id {
            let _ = write!(self.client_request, "{}", row.client_request);
        }
        if row.etag != 0 {
            let _ = write!(self.etag, "\"0x8DE{:013X}\"", row.etag >> 12);
        }
        if row.request_md5 != 0 {
            push_md5(&mut self.request_md5, row.request_md5);
        }
        if row.response_md5 != 0 {
            push_md5(&mut self.response_md5, row.response_md5);
        }
        push_object_key(&mut self.object_key, row);
        if !row.copy_source.is_empty() {
            let (account, path) = row.copy_source.split_once('/').unwrap_or((&row.copy_source, ""));
            let _ = write!(self.source_uri, "https://{account}.blob.core.windows.net/");
            push_percent_encoded(&mut self.source_uri, path, PATH_KEEP);
        }
        self.metric = row.metric_response_type();
    }

    fn fill_requester(&mut self, row: &StorageRow, world: &World) {
        match row.credential {
            Credential::OAuth { principal, app, .. } => {
                let (object_id, app_id, upn, principal_type) = match principal {
                    Principal::User(index) => {
                        let user = &world.users[index];
                        (user.object_id, app.id.to_string(), user.upn.as_str(), "User")
                    }
                    Principal::Workload(index) => {
                        let workload = &world.workloads[index];
                        (workload.object_id, workload.app_id.to_string(), "", "ServicePrincipal")
                    }
                };
                let _ = write!(self.requester_object, "{object_id}");
                self.requester_tenant.push_str(&world.tenant);
                self.requester_app.push_str(&app_id);
                self.requester_audience = "https://storage.azure.com/";
                let _ = write!(self.requester_issuer, "https://sts.windows.net/{}/", world.tenant);
                self.requester_upn.push_str(upn);
                let assignment =
                    Guid::derive(world.seed, LABEL_ROLE_ASSIGNMENT | object_id.high >> 8);
                let action = match row.category() {
                    "StorageRead" => "read",
                    "StorageDelete" => "delete",
                    _ => "write",
                };
                let _ = write!(
                    self.authorization,
                    "[{{\"action\":\"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{action}\",\"principals\":[{{\"id\":\"{object_id}\",\"type\":\"{principal_type}\"}}],\"roleAssignmentId\":\"{assignment}\",\"roleDefinitionId\":\"{BLOB_CONTRIBUTOR_ROLE}\",\"type\":\"RBAC\",\"result\":\"Granted\"}}]"
                );
            }
            Credential::Kerberos { user } => {
                self.requester_user_name.push_str(&world.users[user].domain_name);
                let _ = write!(self.smb_sid, "{}-{}", world.domain_sid, world.users[user].rid);
            }
            _ => {}
        }
    }
}

fn service_host(service: Service) -> &'static str {
    match service {
        Service::Blob => "blob",
        Service::Dfs => "dfs",
        Service::File | Service::Smb => "file",
    }
}

/// Builds `Uri`: percent-encoded HTTPS URL with the SAS query for SAS rows, or a UNC path for
/// SMB rows.
fn push_uri(out: &mut String, row: &StorageRow) {
    let account = ACCOUNTS[row.account].name;
    if row.service == Service::Smb {
        let _ =
            write!(out, "\\\\{account}.file.core.windows.net\\{}", row.object.replace('/', "\\"));
        return;
    }
    let _ = write!(out, "https://{account}.{}.core.windows.net", service_host(row.service));
    if row.explicit_port {
        out.push_str(":443");
    }
    out.push('/');
    push_percent_encoded(out, &row.object, PATH_KEEP);

    let mut separator = '?';
    if !row.query.is_empty() {
        out.push(separator);
        out.push_str(&row.query);
        separator = '&';
    }
    if let Credential::Sas { expiry, account_sas, .. } = row.credential {
        out.push(separator);
        let c = civil(expiry);
        let expiry_text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        );
        if account_sas {
            let services = if row.service.in_blob_logs() { "b" } else { "f" };
            let _ = write!(out, "sv=2025-05-05&ss={services}&srt=sco&sp=rwdlacupiytfx&se=");
            push_percent_encoded(out, &expiry_text, "");
            out.push_str("&spr=https&sig=XXXXX");
        } else {
            let resource = if row.service.in_blob_logs() { "c" } else { "s" };
            out.push_str("sv=2025-05-05&se=");
            push_percent_encoded(out, &expiry_text, "");
            let _ = write!(out, "&sr={resource}&sp=racwl&sig=XXXXX");
        }
    }
}

/// Builds `ObjectKey`: the decoded `/<account>/<container>/<path>`, or the UNC path for SMB.
fn push_object_key(out: &mut String, row: &StorageRow) {
    let account = ACCOUNTS[row.account].name;
    if row.service == Service::Smb {
        let _ =
            write!(out, "\\\\{account}.file.core.windows.net\\{}", row.object.replace('/', "\\"));
    } else if row.object.is_empty() {
        let _ = write!(out, "/{account}");
    } else {
        let _ = write!(out, "/{account}/{}", row.object);
    }
}

fn push_authentication_hash(out: &mut String, row: &StorageRow, world: &World) {
    let account_key =
        |key: u8| mix64(world.seed ^ mix64((row.account as u64) << 8 | u64::from(key)));
    match row.credential {
        Credential::Sas { signature, .. } => {
            out.push_str("key1(");
            push_hex_digest(out, account_key(1));
            out.push_str("),SasSignature(");
            push_hex_digest(out, signature);
            out.push(')');
        }
        Credential::AccountKey { key } => {
            let _ = write!(out, "key{key}(");
            push_hex_digest(out, account_key(key));
            out.push(')');
        }
        Credential::PortalKey => {
            out.push_str("system-1(");
            push_hex_digest(out, account_key(0));
            out.push(')');
        }
        Credential::OAuth { token, .. } => push_hex_digest(out, token),
        Credential::Anonymous | Credential::Kerberos { .. } => {}
    }
}

/// `StorageBlobLogs` in its physical column order: the 44 columns of the Sentinel schema, then
/// the five that newer workspaces append.
fn blob_cells<C: Cells>(c: &mut C, row: &StorageRow, text: &StorageText, world: &World) {
    let account = &ACCOUNTS[row.account];
    c.text("TenantId", &world.workspace);
    c.text("SourceSystem", "Azure");
    c.time("TimeGenerated", Some(row.time));
    c.text("AccountName", account.name);
    c.text("Location", account.location);
    c.text("Protocol", "HTTPS");
    c.text("OperationName", row.operation);
    c.text("AuthenticationType", row.credential.authentication_type());
    c.text("StatusCode", row.status.code);
    c.text("StatusText", row.status_text());
    c.number("DurationMs", Some(row.duration_ms));
    c.number("ServerLatencyMs", Some(row.server_ms));
    c.text("Uri", &text.uri);
    c.text("CallerIpAddress", &text.caller);
    c.text("CorrelationId", &text.correlation);
    c.text("SchemaVersion", "1.0");
    c.text("OperationVersion", row.version);
    c.text("AuthenticationHash", &text.hash);
    c.text("RequesterObjectId", &text.requester_object);
    c.text("RequesterTenantId", &text.requester_tenant);
    c.text("RequesterAppId", &text.requester_app);
    c.text("RequesterAudience", text.requester_audience);
    c.text("RequesterTokenIssuer", &text.requester_issuer);
    c.text("RequesterUpn", &text.requester_upn);
    c.text("AuthorizationDetails", &text.authorization);
    c.text("UserAgentHeader", row.agent);
    c.text("ReferrerHeader", row.referrer);
    c.text("ClientRequestId", &text.client_request);
    c.text("Etag", &text.etag);
    c.text("ServiceType", "blob");
    c.number("OperationCount", Some(0));
    c.number("RequestHeaderSize", Some(row.request_header));
    c.number("RequestBodySize", Some(row.request_body));
    c.number("ResponseHeaderSize", Some(row.response_header));
    c.number("ResponseBodySize", Some(row.response_body));
    c.text("RequestMd5", &text.request_md5);
    c.text("ResponseMd5", &text.response_md5);
    c.time("LastModifiedTime", row.last_modified);
    c.text("ConditionsUsed", row.conditions);
    c.number("ContentLengthHeader", Some(row.content_length));
    c.text("Category", row.category());
    c.text("TlsVersion", row.tls);
    c.text("Type", "StorageBlobLogs");
    c.text("_ResourceId", &world.resource_ids[row.account][0]);
    c.text("ObjectKey", &text.object_key);
    c.text("MetricResponseType", &text.metric);
    c.text("SourceUri", &text.source_uri);
    c.text("DestinationUri", "");
    c.text("AccessTier", row.access_tier);
}

/// `StorageFileLogs` in the Sentinel schema's physical order, then `ObjectKey` and
/// `MetricResponseType`.
fn file_cells<C: Cells>(c: &mut C, row: &StorageRow, text: &StorageText, world: &World) {
    let account = &ACCOUNTS[row.account];
    let smb = row.smb.as_ref();
    let hex = |value: Option<u64>| value.map(|v| format!("0x{v:x}")).unwrap_or_default();
    c.text("TenantId", &world.workspace);
    c.time("TimeGenerated", Some(row.time));
    c.text("AccountName", account.name);
    c.text("Location", account.location);
    c.text("Protocol", if smb.is_some() { "SMB" } else { "HTTPS" });
    c.text("OperationName", row.operation);
    c.text("AuthenticationType", row.credential.authentication_type());
    c.text("StatusCode", row.status.code);
    c.text("StatusText", row.status_text());
    c.number("DurationMs", Some(row.duration_ms));
    c.number("ServerLatencyMs", Some(row.server_ms));
    c.text("Uri", &text.uri);
    c.text("CallerIpAddress", &text.caller);
    c.text("CorrelationId", &text.correlation);
    c.text("SchemaVersion", "1.0");
    c.text("OperationVersion", row.version);
    c.text("AuthenticationHash", &text.hash);
    c.text("RequesterObjectId", &text.requester_object);
    c.text("RequesterTenantId", &text.requester_tenant);
    c.text("RequesterAppId", &text.requester_app);
    c.text("RequesterAudience", text.requester_audience);
    c.text("RequesterTokenIssuer", &text.requester_issuer);
    c.text("RequesterUpn", &text.requester_upn);
    c.text("RequesterUserName", &text.requester_user_name);
    c.text("AuthorizationDetails", &text.authorization);
    c.text("SmbPrimarySID", &text.smb_sid);
    c.text("UserAgentHeader", row.agent);
    c.text("ReferrerHeader", row.referrer);
    c.text("ClientRequestId", &text.client_request);
    c.text("Etag", &text.etag);
    c.text("ServiceType", "file");
    c.number("OperationCount", Some(0));
    c.number("RequestHeaderSize", Some(row.request_header));
    c.number("RequestBodySize", Some(row.request_body));
    c.number("ResponseHeaderSize", Some(row.response_header));
    c.number("ResponseBodySize", Some(row.response_body));
    c.text("RequestMd5", &text.request_md5);
    c.text("ResponseMd5", &text.response_md5);
    c.time("LastModifiedTime", row.last_modified);
    c.text("ConditionsUsed", row.conditions);
    c.number("ContentLengthHeader", Some(row.content_length));
    c.text("Category", row.category());
    c.text("TlsVersion", row.tls);
    c.text("SmbTreeConnectID", &hex(smb.map(|s| u64::from(s.tree))));
    c.text("SmbPersistentHandleID", &hex(smb.map(|s| s.handle >> 8)));
    c.text("SmbVolatileHandleID", &hex(smb.map(|s| s.handle & 0xffff_ffff)));
    c.text("SmbMessageID", &hex(smb.map(|s| s.message)));
    c.number("SmbCreditsConsumed", smb.map(|_| 1));
    c.text("SmbCommandDetail", smb.map_or("", |s| s.detail.as_str()));
    c.text("SmbFileId", &hex(smb.map(|s| s.file_id)));
    c.text("SmbSessionID", &hex(smb.map(|s| s.session)));
    c.number("SmbCommandMajor", smb.map(|s| s.major));
    c.text("SmbCommandMinor", "");
    c.text("SourceSystem", "Azure");
    c.text("Type", "StorageFileLogs");
    c.text("_ResourceId", &world.resource_ids[row.account][1]);
    c.text("ObjectKey", &text.object_key);
    c.text("MetricResponseType", &text.metric);
}

/// Per-row texts of a sign-in, shared by the three sign-in layouts.
#[derive(Default)]
struct SigninText {
    correlation: String,
    id: String,
    session: String,
    user_id: String,
    device: String,
    location: String,
    status: String,
    details_pretty: String,
    details_compact: String,
    token: String,
}

impl SigninText {
    fn clear(&mut self) {
        for text in [
            &mut self.correlation,
            &mut self.id,
            &mut self.session,
            &mut self.user_id,
            &mut self.device,
            &mut self.location,
            &mut self.status,
            &mut self.details_pretty,
            &mut self.details_compact,
            &mut self.token,
        ] {
            text.clear();
        }
    }

    fn fill(&mut self, row: &SigninRow, world: &World) {
        self.clear();
        let _ = write!(self.correlation, "{}", row.correlation);
        let _ = write!(self.id, "{}", row.id);
        let _ = write!(self.session, "{}", row.session);

        if let Principal::User(index) = row.principal {
            self.fill_user(row, &world.users[index]);
        }
        self.fill_location(row.address);
        self.fill_status(row.result);
        self.fill_details(row);
        self.fill_token(row.id);
    }

    fn fill_user(&mut self, row: &SigninRow, user: &User) {
        let _ = write!(self.user_id, "{}", user.object_id);
        // Only browser sign-ins come from the user's registered device.
        let device_id =
            if row.agent.browser.is_empty() { String::new() } else { user.device_id.to_string() };
        let _ = write!(
            self.device,
            "{{\"deviceId\":\"{device_id}\",\"operatingSystem\":\"{}\",\"browser\":\"{}\"}}",
            row.agent.os, row.agent.browser
        );
    }

    fn fill_location(&mut self, address: IpAddr) {
        let place = place_of(address);
        let _ = write!(
            self.location,
            "{{\"city\":\"{}\",\"state\":\"{}\",\"countryOrRegion\":\"{}\",\"geoCoordinates\":{{\"latitude\":{},\"longitude\":{}}}}}",
            place.city, place.state, place.country, place.latitude, place.longitude
        );
    }

    fn fill_status(&mut self, result: SigninResult) {
        if result == SigninResult::Success {
            self.status.push_str("{\"errorCode\":0}");
            return;
        }
        let _ = write!(
            self.status,
            "{{\"errorCode\":{},\"failureReason\":\"{}\"}}",
            result.code(),
            result.description()
        );
    }

    /// Builds `UniqueTokenIdentifier`: 16 bytes in URL-safe base64 without padding, 22
    /// characters.
    fn fill_token(&mut self, id: Guid) {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&id.high.to_le_bytes());
        bytes[8..].copy_from_slice(&id.low.to_le_bytes());
        push_base64(&mut self.token, &bytes);
        let unpadded = self.token.trim_end_matches('=').len();
        self.token.truncate(unpadded);
        self.token = self.token.replace('+', "-").replace('/', "_");
    }

    /// Builds `AuthenticationDetails`, pretty-printed with line breaks for `SigninLogs` and
    /// compact for the non-interactive table.
    fn fill_details(&mut self, row: &SigninRow) {
        let mut step_time = String::new();
        push_iso_time(&mut step_time, row.created, 7, "+00:00");
        let (method, succeeded, detail) = match (row.table, row.result) {
            (SigninTable::NonInteractive, _) => (
                "Previously satisfied",
                true,
                "First factor requirement satisfied by claim in the token",
            ),
            (_, SigninResult::BadPassword) => (
                "Password",
                false,
                "Invalid username or password or Invalid on-premise username or password.",
            ),
            _ => ("Password", true, "Correct password"),
        };
        let _ = write!(
            self.details_pretty,
            "[\n  {{\n    \"authenticationStepDateTime\": \"{step_time}\",\n    \"authenticationMethod\": \"{method}\",\n    \"succeeded\": {succeeded},\n    \"authenticationStepResultDetail\": \"{detail}\",\n    \"authenticationStepRequirement\": \"Primary authentication\"\n  }}\n]"
        );
        let _ = write!(
            self.details_compact,
            "[{{\"authenticationStepDateTime\":\"{step_time}\",\"authenticationMethod\":\"{method}\",\"succeeded\":{succeeded},\"authenticationStepResultDetail\":\"{detail}\",\"authenticationStepRequirement\":\"Primary authentication\"}}]"
        );
    }
}

fn signin_user<'a>(row: &SigninRow, world: &'a World) -> &'a User {
    let Principal::User(index) = row.principal else {
        unreachable!("a user sign-in table holds a workload row")
    };
    &world.users[index]
}

/// `SigninLogs` columns in the physical order of a real portal export, limited to the commonly
/// used ones.
fn interactive_cells<C: Cells>(c: &mut C, row: &SigninRow, text: &SigninText, world: &World) {
    let user = signin_user(row, world);
    let place = place_of(row.address);
    c.text("TenantId", &world.tenant);
    c.text("SourceSystem", "Azure AD");
    c.time("TimeGenerated", Some(row.generated));
    c.text("ResourceId", &format!("/tenants/{}/providers/Microsoft.aadiam", world.tenant));
    c.text("OperationName", "Sign-in activity");
    c.text("OperationVersion", "1.0");
    c.text("Category", "SignInLogs");
    c.text("ResultType", row.result.code());
    c.text("ResultSignature", "None");
    c.text("ResultDescription", row.result.description());
    c.number("DurationMs", Some(0));
    c.text("CorrelationId", &text.correlation);
    c.text("ResourceGroup", "Microsoft.aadiam");
    c.text("Identity", &user.display);
    c.text("Level", "4");
    c.text("Location", place.country);
    c.text("AppDisplayName", row.app.name);
    c.text("AppId", row.app.id);
    c.text("AuthenticationDetails", &text.details_pretty);
    c.text("AuthenticationRequirement", "multiFactorAuthentication");
    c.text("ClientAppUsed", row.app.client_app);
    c.text("ConditionalAccessPolicies", "[]");
    c.text("ConditionalAccessStatus", "notApplied");
    c.time("CreatedDateTime", Some(row.created));
    c.text("DeviceDetail", &text.device);
    c.boolean("IsInteractive", true);
    c.text("Id", &text.id);
    c.text("IPAddress", &row.address_text);
    c.boolean("IsRisky", false);
    c.text("LocationDetails", &text.location);
    c.text("MfaDetail", "{}");
    c.text("RiskDetail", "none");
    c.text("RiskLevelAggregated", "none");
    c.text("RiskState", "none");
    c.text("ResourceDisplayName", row.resource.name);
    c.text("Status", &text.status);
    c.text("TokenIssuerType", "AzureAD");
    c.text("UserAgent", row.agent.text);
    c.text("UserDisplayName", &user.display);
    c.text("UserId", &text.user_id);
    c.text("UserPrincipalName", &user.upn);
    c.text("AADTenantId", &world.tenant);
    c.text("UserType", "Member");
    c.text("ResourceTenantId", &world.tenant);
    c.text("HomeTenantId", &world.tenant);
    c.text("Type", "SigninLogs");
}

fn non_interactive_cells<C: Cells>(c: &mut C, row: &SigninRow, text: &SigninText, world: &World) {
    let user = signin_user(row, world);
    let place = place_of(row.address);
    c.text("TenantId", &world.tenant);
    c.text("SourceSystem", "Azure AD");
    c.time("TimeGenerated", Some(row.generated));
    c.text("OperationName", "Sign-in activity");
    c.text("OperationVersion", "1.0");
    c.text("Category", "NonInteractiveUserSignInLogs");
    c.text("ResultType", row.result.code());
    c.text("ResultSignature", "None");
    c.text("ResultDescription", row.result.description());
    c.number("DurationMs", Some(0));
    c.text("CorrelationId", &text.correlation);
    c.text("ResourceGroup", "Microsoft.aadiam");
    c.text("Identity", &user.display);
    c.text("Level", "4");
    c.text("Location", place.country);
    c.text("AppDisplayName", row.app.name);
    c.text("AppId", row.app.id);
    c.text("AuthenticationDetails", &text.details_compact);
    c.text("AuthenticationRequirement", "singleFactorAuthentication");
    c.text("ClientAppUsed", row.app.client_app);
    c.text("ConditionalAccessPolicies", "[]");
    c.text("ConditionalAccessStatus", "notApplied");
    c.time("CreatedDateTime", Some(row.created));
    c.text("DeviceDetail", &text.device);
    c.text("Id", &text.id);
    c.text("IPAddress", &row.address_text);
    c.boolean("IsInteractive", false);
    c.boolean("IsRisky", false);
    c.text("LocationDetails", &text.location);
    c.text("MfaDetail", "{}");
    c.text("ProcessingTimeInMs", "0");
    c.text("ResourceDisplayName", row.resource.name);
    c.text("ResourceIdentity", row.resource.id);
    c.text("RiskDetail", "none");
    c.text("RiskLevelAggregated", "none");
    c.text("RiskState", "none");
    c.text("SessionId", &text.session);
    c.text("SignInEventTypes", "[\"nonInteractiveUser\"]");
    c.text("Status", &text.status);
    c.text("TokenIssuerType", "AzureAD");
    c.text("UniqueTokenIdentifier", &text.token);
    c.text("UserAgent", row.agent.text);
    c.text("UserDisplayName", &user.display);
    c.text("UserId", &text.user_id);
    c.text("UserPrincipalName", &user.upn);
    c.text("UserType", "Member");
    c.text("HomeTenantId", &world.tenant);
    c.text("ResourceTenantId", &world.tenant);
    c.text("Type", "AADNonInteractiveUserSignInLogs");
}

fn service_principal_cells<C: Cells>(c: &mut C, row: &SigninRow, text: &SigninText, world: &World) {
    let Principal::Workload(index) = row.principal else {
        unreachable!("service principal table holds a user row")
    };
    let workload = &world.workloads[index];
    let place = place_of(row.address);
    c.text("TenantId", &world.tenant);
    c.text("SourceSystem", "Azure AD");
    c.time("TimeGenerated", Some(row.generated));
    c.text("OperationName", "Sign-in activity");
    c.text("OperationVersion", "1.0");
    c.text("Category", "ServicePrincipalSignInLogs");
    c.text("ResultType", row.result.code());
    c.text("ResultSignature", "None");
    c.text("ResultDescription", row.result.description());
    c.number("DurationMs", Some(0));
    c.text("CorrelationId", &text.correlation);
    c.text("ResourceGroup", "Microsoft.aadiam");
    c.text("Identity", workload.name);
    c.text("Level", "4");
    c.text("Location", place.country);
    c.text("AppId", &workload.app_id.to_string());
    c.text("ConditionalAccessStatus", "notApplied");
    c.text("Id", &text.id);
    c.text("IPAddress", &row.address_text);
    c.text("LocationDetails", &text.location);
    c.text("ResourceDisplayName", row.resource.name);
    c.text("ResourceIdentity", row.resource.id);
    c.text(
        "ServicePrincipalCredentialKeyId",
        &Guid::derive(world.seed, LABEL_WORKLOAD_APP | 0x100 | index as u64).to_string(),
    );
    c.text("ServicePrincipalId", &workload.object_id.to_string());
    c.text("ServicePrincipalName", workload.name);
    c.text("UniqueTokenIdentifier", &text.token);
    c.text("Type", "AADServicePrincipalSignInLogs");
}

// ---------------------------------------------------------------------------------------------
// Output files

const FILE_COUNT: usize = 6;
const BLOB: usize = 0;
const FILE: usize = 1;
const INTERACTIVE: usize = 2;
const NON_INTERACTIVE: usize = 3;
const SERVICE_PRINCIPAL: usize = 4;
const TRUTH: usize = 5;
const FILE_NAMES: [&str; FILE_COUNT] = [
    BLOB_LOGS_FILE,
    FILE_LOGS_FILE,
    SIGNIN_LOGS_FILE,
    NON_INTERACTIVE_FILE,
    SERVICE_PRINCIPAL_FILE,
    TRUTH_FILE,
];
const UTF8_BOM: &str = "\u{feff}";
const TRUTH_HEADER: &str = "object_path,upload_time,upload_kind,true_account,attributable,scenario";

/// Tells whether `path` is the ground-truth file that `generate` writes beside its logs: named
/// `truth.csv` and starting with its header. Importing a generated folder leaves it out.
pub fn is_truth_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()) == Some(TRUTH_FILE)
        && File::open(path).is_ok_and(starts_with_truth_header)
}

/// Tells whether a zip member is the ground-truth file: named `truth.csv` in any folder of the
/// archive and starting with its header. `open` opens the member for reading.
pub fn is_truth_member<R: std::io::Read>(name: &str, open: impl FnOnce() -> Option<R>) -> bool {
    name.rsplit(['/', '\\']).next() == Some(TRUTH_FILE) && open().is_some_and(starts_with_truth_header)
}

fn starts_with_truth_header(reader: impl std::io::Read) -> bool {
    use std::io::Read;
    let mut start = Vec::new();
    let limit = (UTF8_BOM.len() + TRUTH_HEADER.len()) as u64;
    if reader.take(limit).read_to_end(&mut start).is_err() {
        return false;
    }
    let start = start.strip_prefix(UTF8_BOM.as_bytes()).unwrap_or(&start);
    start.starts_with(TRUTH_HEADER.as_bytes())
}

struct Output {
    paths: Vec<PathBuf>,
    writers: Vec<BufWriter<File>>,
    counts: [u64; FILE_COUNT],
    written: u64,
    next_report: u64,
    uploads: u64,
    attributable: u64,
    line: String,
    storage_text: StorageText,
    signin_text: SigninText,
}

impl Output {
    fn create(folder: &Path, world: &World) -> io::Result<Output> {
        let paths: Vec<PathBuf> = FILE_NAMES.iter().map(|name| folder.join(name)).collect();
        let mut writers = Vec::with_capacity(FILE_COUNT);
        for path in &paths {
            let file = File::create(path).map_err(|error| {
                io::Error::new(error.kind(), format!("cannot create `{}`: {error}", path.display()))
            })?;
            writers.push(BufWriter::with_capacity(1 << 20, file));
        }
        let mut output = Output {
            paths,
            writers,
            counts: [0; FILE_COUNT],
            written: 0,
            next_report: PROGRESS_EVERY,
            uploads: 0,
            attributable: 0,
            line: String::with_capacity(4096),
            storage_text: StorageText::default(),
            signin_text: SigninText::default(),
        };
        output.write_headers(world)?;
        Ok(output)
    }

    fn write_headers(&mut self, world: &World) -> io::Result<()> {
        let storage = sample_storage_row();
        let signin = sample_signin_row();
        let mut blob = HeaderCells { names: Vec::new() };
        blob_cells(&mut blob, &storage, &StorageText::default(), world);
        let mut interactive = HeaderCells { names: Vec::new() };
        interactive_cells(&mut interactive, &signin, &SigninText::default(), world);

        for (file, names) in [(BLOB, blob.names), (INTERACTIVE, interactive.names)] {
            self.line.clear();
            self.line.push_str(UTF8_BOM);
            let mut cells = CsvCells { out: &mut self.line, started: false };
            for name in &names {
                cells.text("", name);
            }
            self.line.push_str("\r\n");
            self.writers[file].write_all(self.line.as_bytes())?;
        }
        self.writers[TRUTH].write_all(TRUTH_HEADER.as_bytes())?;
        self.writers[TRUTH].write_all(b"\n")
    }

    fn write_day(
        &mut self,
        world: &World,
        batch: &DayBatch,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<()> {
        for row in &batch.blob {
            self.storage_text.fill(row, world);
            self.line.clear();
            let mut cells = CsvCells { out: &mut self.line, started: false };
            blob_cells(&mut cells, row, &self.storage_text, world);
            self.line.push_str("\r\n");
            self.emit(BLOB, progress)?;
        }
        for row in &batch.file {
            self.storage_text.fill(row, world);
            self.line.clear();
            let mut cells = JsonCells { out: &mut self.line, started: false };
            file_cells(&mut cells, row, &self.storage_text, world);
            cells.close();
            self.line.push('\n');
            self.emit(FILE, progress)?;
        }
        for row in &batch.interactive {
            self.signin_text.fill(row, world);
            self.line.clear();
            let mut cells = CsvCells { out: &mut self.line, started: false };
            interactive_cells(&mut cells, row, &self.signin_text, world);
            self.line.push_str("\r\n");
            self.emit(INTERACTIVE, progress)?;
        }
        for (file, rows) in [
            (NON_INTERACTIVE, &batch.non_interactive),
            (SERVICE_PRINCIPAL, &batch.service_principal),
        ] {
            for row in rows {
                self.signin_text.fill(row, world);
                self.line.clear();
                let mut cells = JsonCells { out: &mut self.line, started: false };
                if file == NON_INTERACTIVE {
                    non_interactive_cells(&mut cells, row, &self.signin_text, world);
                } else {
                    service_principal_cells(&mut cells, row, &self.signin_text, world);
                }
                cells.close();
                self.line.push('\n');
                self.emit(file, progress)?;
            }
        }
        for upload in &batch.uploads {
            self.line.clear();
            push_truth_line(&mut self.line, upload, world);
            self.uploads += 1;
            self.attributable += u64::from(upload.attributable);
            self.emit(TRUTH, progress)?;
        }
        Ok(())
    }

    fn emit(&mut self, file: usize, progress: &mut dyn FnMut(u64)) -> io::Result<()> {
        self.writers[file].write_all(self.line.as_bytes())?;
        self.counts[file] += 1;
        self.written += 1;
        if self.written >= self.next_report {
            progress(self.written);
            self.next_report += PROGRESS_EVERY;
        }
        Ok(())
    }

    fn finish(mut self, progress: &mut dyn FnMut(u64)) -> io::Result<GenerateSummary> {
        for (writer, path) in self.writers.iter_mut().zip(&self.paths) {
            writer.flush().map_err(|error| {
                io::Error::new(error.kind(), format!("cannot write `{}`: {error}", path.display()))
            })?;
        }
        progress(self.written);
        Ok(GenerateSummary {
            files: self.paths.into_iter().zip(self.counts).collect(),
            uploads: self.uploads,
            attributable: self.attributable,
        })
    }
}

fn push_truth_line(out: &mut String, upload: &Upload, world: &World) {
    push_csv_field(out, &upload.object_path);
    out.push(',');
    push_iso_time(out, upload.time, 6, "Z");
    out.push(',');
    out.push_str(upload.kind);
    out.push(',');
    // The rows of a Kerberos upload name the user as `CONTOSO\first.last`, not by UPN.
    let account = match upload.uploader {
        Principal::User(index) if upload.kerberos => world.users[index].domain_name.as_str(),
        uploader => world.account_name(uploader),
    };
    push_csv_field(out, account);
    out.push(',');
    out.push_str(if upload.attributable { "true" } else { "false" });
    out.push(',');
    out.push_str(upload.scenario.slug());
    out.push('\n');
}

/// Builds a row used only to list the columns of a header.
fn sample_storage_row() -> StorageRow {
    StorageRow {
        time: FIRST_DAY,
        account: 0,
        service: Service::Blob,
        operation: "GetBlob",
        credential: Credential::Anonymous,
        status: success_status("GetBlob"),
        duration_ms: 0,
        server_ms: 0,
        object: String::new(),
        query: String::new(),
        explicit_port: false,
        address: Address::Empty,
        correlation: Guid::default(),
        client_request: Guid::default(),
        agent: "",
        referrer: "",
        version: "",
        tls: "",
        etag: 0,
        request_header: 0,
        request_body: 0,
        response_header: 0,
        response_body: 0,
        request_md5: 0,
        response_md5: 0,
        last_modified: None,
        content_length: 0,
        conditions: "",
        access_tier: "",
        copy_source: String::new(),
        smb: None,
    }
}

fn sample_signin_row() -> SigninRow {
    SigninRow {
        table: SigninTable::Interactive,
        created: FIRST_DAY,
        generated: FIRST_DAY,
        principal: Principal::User(0),
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        address_text: String::new(),
        app: &APP_PORTAL,
        resource: &RESOURCE_ARM,
        agent: BROWSERS[0],
        result: SigninResult::Success,
        correlation: Guid::default(),
        id: Guid::default(),
        session: Guid::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns a fresh, empty folder path under the system temporary folder.
    fn scratch_folder(name: &str) -> PathBuf {
        let folder =
            std::env::temp_dir().join(format!("blobtrail-generate-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&folder);
        folder
    }

    fn run(name: &str, scale: u32, seed: u64, skew: bool) -> (PathBuf, GenerateSummary) {
        let out = scratch_folder(name);
        let options = GenerateOptions { out: out.clone(), scale, seed, skew };
        let summary = generate(&options, &mut |_| {}).expect("generation succeeds");
        (out, summary)
    }

    fn read(folder: &Path, name: &str) -> String {
        fs::read_to_string(folder.join(name)).expect("file is UTF-8")
    }

    /// Splits RFC 4180 text into records of fields; quoted fields may hold commas, doubled
    /// quotes and line breaks. Records end with CRLF.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => record.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "a CR outside quotes starts a CRLF");
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                (false, '\n') => panic!("bare LF outside quotes: records must end with CRLF"),
                (false, c) => field.push(c),
            }
        }
        assert!(!quoted, "file ends inside a quoted field");
        assert!(field.is_empty(), "last record lacks CRLF");
        assert!(record.is_empty(), "last record lacks CRLF");
        records
    }

    /// Checks that a JSON line is one flat object: string keys, and values that are strings,
    /// numbers, `true`, `false` or `null`, never nested objects or arrays.
    fn assert_flat_json_object(line: &str) {
        assert!(line.starts_with('{'), "not an object: {line}");
        assert!(line.ends_with('}'), "not an object: {line}");
        let mut in_string = false;
        let mut escaped = false;
        let mut expecting_key = true;
        for c in line[1..line.len() - 1].chars() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => assert!(u32::from(c) >= 0x20, "raw control character in {line}"),
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                ':' => expecting_key = false,
                ',' => expecting_key = true,
                '{' | '}' | '[' | ']' => panic!("nested value outside a string in {line}"),
                c if expecting_key => panic!("unquoted key character {c:?} in {line}"),
                _ => {}
            }
        }
        assert!(!in_string, "unterminated string in {line}");
    }

    #[test]
    fn same_seed_writes_same_bytes() {
        let (first, _) = run("same-a", 1, 7, false);
        let (second, _) = run("same-b", 1, 7, false);
        for name in FILE_NAMES {
            let a = fs::read(first.join(name)).unwrap();
            let b = fs::read(second.join(name)).unwrap();
            assert!(a == b, "{name} differs between two runs with seed 7");
        }
        let _ = fs::remove_dir_all(first);
        let _ = fs::remove_dir_all(second);
    }

    #[test]
    fn different_seed_writes_different_bytes() {
        let (first, _) = run("seed-a", 1, 7, false);
        let (second, _) = run("seed-b", 1, 8, false);
        for name in FILE_NAMES {
            let a = fs::read(first.join(name)).unwrap();
            let b = fs::read(second.join(name)).unwrap();
            assert!(a != b, "{name} is the same for seeds 7 and 8");
        }
        let _ = fs::remove_dir_all(first);
        let _ = fs::remove_dir_all(second);
    }

    #[test]
    fn record_counts_grow_with_scale() {
        let (small, one) = run("scale-1", 1, 3, false);
        let (large, three) = run("scale-3", 3, 3, false);
        for ((path, at_one), (_, at_three)) in one.files.iter().zip(&three.files) {
            let ratio = *at_three as f64 / *at_one as f64;
            assert!((2.4..3.6).contains(&ratio), "{} grows {at_one} -> {at_three}", path.display());
        }
        let storage_one = one.files[BLOB].1 + one.files[FILE].1;
        let signins_one = one.files[INTERACTIVE].1
            + one.files[NON_INTERACTIVE].1
            + one.files[SERVICE_PRINCIPAL].1;
        assert!(
            (8_000..14_000).contains(&storage_one),
            "storage rows per scale unit: {storage_one}"
        );
        assert!((1_500..3_000).contains(&signins_one), "sign-ins per scale unit: {signins_one}");
        assert!((150..500).contains(&one.uploads), "uploads per scale unit: {}", one.uploads);
        let _ = fs::remove_dir_all(small);
        let _ = fs::remove_dir_all(large);
    }

    #[test]
    fn truth_object_paths_are_unique() {
        let (out, summary) = run("unique", 3, 11, true);
        let text = read(&out, TRUTH_FILE);
        let mut paths: Vec<String> = text
            .lines()
            .skip(1)
            .map(|line| parse_csv(&format!("{line}\r\n"))[0][0].clone())
            .collect();
        assert_eq!(paths.len() as u64, summary.uploads);
        paths.sort();
        let before = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), before, "some object paths repeat");
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn truth_rows_have_declared_shape() {
        let (out, summary) = run("truth-shape", 1, 5, false);
        let text = read(&out, TRUTH_FILE);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(TRUTH_HEADER));
        let mut slugs = Vec::new();
        let mut attributable = 0;
        for line in lines {
            let fields = &parse_csv(&format!("{line}\r\n"))[0];
            assert_eq!(fields.len(), 6, "{line}");
            assert!(fields[0].starts_with('/'), "{line}");
            assert!(fields[0].matches('/').count() >= 3, "{line}");
            let time = &fields[1];
            assert_eq!(time.len(), "2026-03-02T14:00:30.123000Z".len(), "{line}");
            assert!(time.starts_with("2026-03-"), "{line}");
            assert!(time.ends_with('Z'), "{line}");
            assert!(!fields[3].is_empty(), "{line}");
            assert!(fields[4] == "true" || fields[4] == "false", "{line}");
            attributable += u64::from(fields[4] == "true");
            slugs.push(fields[5].clone());
        }
        assert_eq!(attributable, summary.attributable);
        for scenario in Scenario::ALL {
            let count = slugs.iter().filter(|slug| *slug == scenario.slug()).count();
            assert!(count >= 1, "scenario {} missing at scale 1", scenario.slug());
        }
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn csv_exports_have_declared_shape() {
        let (out, summary) = run("csv-shape", 1, 2, false);
        for (name, columns, first, time_column, records) in [
            (BLOB_LOGS_FILE, 49, "TenantId", "TimeGenerated [UTC]", summary.files[BLOB].1),
            (
                SIGNIN_LOGS_FILE,
                46,
                "TenantId",
                "CreatedDateTime [UTC]",
                summary.files[INTERACTIVE].1,
            ),
        ] {
            let bytes = fs::read(out.join(name)).unwrap();
            assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "{name} lacks the UTF-8 BOM");
            let text = std::str::from_utf8(&bytes[3..]).unwrap();
            let rows = parse_csv(text);
            let header = &rows[0];
            assert_eq!(header.len(), columns, "{name} header: {header:?}");
            assert_eq!(header[0], first);
            assert!(
                header.iter().any(|column| column == time_column),
                "{name} lacks {time_column}"
            );
            assert_eq!(rows.len() as u64 - 1, records, "{name} record count");
            for row in &rows[1..] {
                assert_eq!(row.len(), columns, "{name} row: {row:?}");
            }
        }
        let blob = parse_csv(&read(&out, BLOB_LOGS_FILE)[3..]);
        let last_five: Vec<&str> = blob[0][44..].iter().map(String::as_str).collect();
        assert_eq!(
            last_five,
            ["ObjectKey", "MetricResponseType", "SourceUri", "DestinationUri", "AccessTier"]
        );
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn json_exports_are_flat_objects() {
        let (out, summary) = run("json-shape", 1, 2, false);
        for (name, table, records) in [
            (FILE_LOGS_FILE, "StorageFileLogs", summary.files[FILE].1),
            (
                NON_INTERACTIVE_FILE,
                "AADNonInteractiveUserSignInLogs",
                summary.files[NON_INTERACTIVE].1,
            ),
            (
                SERVICE_PRINCIPAL_FILE,
                "AADServicePrincipalSignInLogs",
                summary.files[SERVICE_PRINCIPAL].1,
            ),
        ] {
            let text = read(&out, name);
            assert!(text.ends_with('\n'), "{name} lacks a final line break");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len() as u64, records, "{name} record count");
            let type_field = format!("\"Type\":\"{table}\"");
            for line in lines {
                assert_flat_json_object(line);
                assert!(line.contains(&type_field), "{name} line lacks {type_field}: {line}");
                assert!(line.contains("\"TimeGenerated\":\"2026-03-"), "{name}: {line}");
            }
        }
        let service = read(&out, SERVICE_PRINCIPAL_FILE);
        assert!(!service.contains("UserPrincipalName"), "service principal rows hold user columns");
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn correlation_ids_are_unique() {
        let (out, _) = run("correlation", 1, 4, false);
        let blob = parse_csv(&read(&out, BLOB_LOGS_FILE)[3..]);
        let column = blob[0].iter().position(|name| name == "CorrelationId").unwrap();
        let mut ids: Vec<String> = blob[1..].iter().map(|row| row[column].clone()).collect();
        for line in read(&out, FILE_LOGS_FILE).lines() {
            let start = line.find("\"CorrelationId\":\"").unwrap() + "\"CorrelationId\":\"".len();
            ids.push(line[start..start + 36].to_string());
        }
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "correlation ids repeat");
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn skew_puts_a_third_behind_one_address() {
        let (out, summary) = run("skew", 2, 9, true);
        let skew = SKEW_NAT.to_string();
        let signin = parse_csv(&read(&out, SIGNIN_LOGS_FILE)[3..]);
        let column = signin[0].iter().position(|name| name == "IPAddress").unwrap();
        let mut behind = signin[1..].iter().filter(|row| row[column] == skew).count();
        let mut total = signin.len() - 1;
        for name in [NON_INTERACTIVE_FILE, SERVICE_PRINCIPAL_FILE] {
            for line in read(&out, name).lines() {
                total += 1;
                behind += usize::from(line.contains(&format!("\"IPAddress\":\"{skew}\"")));
            }
        }
        let share = behind as f64 / total as f64;
        assert!((0.25..0.45).contains(&share), "share of sign-ins behind the skew NAT: {share}");

        let blob = parse_csv(&read(&out, BLOB_LOGS_FILE)[3..]);
        let operation = blob[0].iter().position(|name| name == "OperationName").unwrap();
        let caller = blob[0].iter().position(|name| name == "CallerIpAddress").unwrap();
        let skew_prefix = format!("{skew}:");
        let completing =
            ["PutBlob", "PutBlockList", "AppendBlock", "PutPage", "CopyBlob", "FlushFile"];
        // Zero-byte `PutBlob` rows that create append and page blobs count as uploads here too,
        // so this share is approximate.
        let uploads_behind = blob[1..]
            .iter()
            .filter(|row| {
                completing.contains(&row[operation].as_str())
                    && row[caller].starts_with(&skew_prefix)
            })
            .count();
        let upload_share = uploads_behind as f64 / summary.uploads as f64;
        assert!(
            (0.2..0.45).contains(&upload_share),
            "share of uploads behind the skew NAT: {upload_share}"
        );
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn progress_is_reported_every_ten_thousand() {
        let out = scratch_folder("progress");
        let mut reports = Vec::new();
        let options = GenerateOptions { out: out.clone(), scale: 2, seed: 1, skew: false };
        let summary = generate(&options, &mut |count| reports.push(count)).unwrap();
        let total: u64 = summary.files.iter().map(|(_, count)| count).sum();
        assert_eq!(reports.first(), Some(&PROGRESS_EVERY));
        assert_eq!(reports.last(), Some(&total));
        assert!(reports.windows(2).all(|pair| pair[0] < pair[1]), "{reports:?}");
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn non_empty_folder_is_rejected() {
        let out = scratch_folder("not-empty");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("notes.txt"), "keep me").unwrap();
        let options = GenerateOptions { out: out.clone(), scale: 1, seed: 1, skew: false };
        let error = generate(&options, &mut |_| {}).err().expect("a non-empty folder fails");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "keep me");
        let _ = fs::remove_dir_all(out);
    }

    #[test]
    fn zero_scale_is_rejected() {
        let out = scratch_folder("zero");
        let options = GenerateOptions { out: out.clone(), scale: 0, seed: 1, skew: false };
        let error = generate(&options, &mut |_| {}).err().expect("scale 0 fails");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(!out.exists(), "scale 0 must not create the folder");
    }

    #[test]
    fn csv_field_quoting() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\rlf", "\"cr\rlf\""),
            ("{\"errorCode\":0}", "\"{\"\"errorCode\"\":0}\""),
            ("Résumé", "Résumé"),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            push_csv_field(&mut out, value);
            assert_eq!(out, expected, "quoting of {value:?}");
        }
    }

    #[test]
    fn portal_time_format_edges() {
        let at = |hour: i64, minute: i64, second: i64, millis: i64| {
            FIRST_DAY
                + 12 * TICKS_PER_DAY
                + hour * TICKS_PER_HOUR
                + minute * TICKS_PER_MINUTE
                + second * TICKS_PER_SECOND
                + millis * TICKS_PER_MILLISECOND
        };
        let cases = [
            (at(0, 0, 0, 0), "3/14/2026, 12:00:00.000 AM"),
            (at(0, 59, 59, 999), "3/14/2026, 12:59:59.999 AM"),
            (at(1, 2, 3, 4), "3/14/2026, 1:02:03.004 AM"),
            (at(11, 59, 59, 999), "3/14/2026, 11:59:59.999 AM"),
            (at(12, 0, 0, 0), "3/14/2026, 12:00:00.000 PM"),
            (at(14, 0, 30, 123), "3/14/2026, 2:00:30.123 PM"),
            (at(23, 59, 59, 999), "3/14/2026, 11:59:59.999 PM"),
            (FIRST_DAY - 1, "3/1/2026, 11:59:59.999 PM"),
            (FIRST_DAY + 304 * TICKS_PER_DAY, "12/31/2026, 12:00:00.000 AM"),
        ];
        for (ticks, expected) in cases {
            let mut out = String::new();
            push_portal_time(&mut out, ticks);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn iso_time_digits() {
        let ticks = FIRST_DAY + 14 * TICKS_PER_HOUR + 30 * TICKS_PER_SECOND + 1_234_567;
        let mut seven = String::new();
        push_iso_time(&mut seven, ticks, 7, "Z");
        assert_eq!(seven, "2026-03-02T14:00:30.1234567Z");
        let mut six = String::new();
        push_iso_time(&mut six, ticks, 6, "Z");
        assert_eq!(six, "2026-03-02T14:00:30.123456Z");
        let mut offset = String::new();
        push_iso_time(&mut offset, FIRST_DAY, 7, "+00:00");
        assert_eq!(offset, "2026-03-02T00:00:00.0000000+00:00");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_514), (2026, 3, 2));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(20_512), (2026, 2, 28));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn caller_address_forms() {
        let v6: Ipv6Addr = "2001:db8:4::1a".parse().unwrap();
        let cases = [
            (Address::V4 { ip: Ipv4Addr::new(203, 0, 113, 7), port: 50123 }, "203.0.113.7:50123"),
            (Address::V6 { ip: v6, port: Some(52044) }, "[2001:db8:4::1a]:52044"),
            (Address::V6 { ip: v6, port: None }, "2001:db8:4::1a"),
            (Address::Bare(IpAddr::V4(Ipv4Addr::new(10, 40, 1, 20))), "10.40.1.20"),
            (Address::Redacted { port: 1234 }, "<Redacted>:1234"),
            (Address::Empty, ""),
        ];
        for (address, expected) in cases {
            let mut out = String::new();
            address.push_text(&mut out);
            assert_eq!(out, expected);
        }
        assert_eq!(uncompressed_ipv6(v6), "2001:db8:4:0:0:0:0:1a");
    }

    #[test]
    fn percent_encoding_of_paths() {
        let mut out = String::new();
        push_percent_encoded(&mut out, "$web/Résumé - final (2).docx", PATH_KEEP);
        assert_eq!(out, "$web/R%C3%A9sum%C3%A9%20-%20final%20(2).docx");
        let mut query = String::new();
        push_percent_encoded(&mut query, "AAAA+/==", "");
        assert_eq!(query, "AAAA%2B%2F%3D%3D");
    }

    #[test]
    fn attributability_window() {
        let address = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        let uploader = Principal::User(3);
        let time = FIRST_DAY + 12 * TICKS_PER_HOUR;
        let upload = |address: Option<IpAddr>, oauth: bool| Upload {
            object_path: "/contosodocs/a/b.txt".to_string(),
            time,
            kind: "PutBlob",
            uploader,
            address,
            oauth,
            kerberos: false,
            scenario: Scenario::Background,
            attributable: false,
        };
        let evidence_at = |offset: i64, principal: Principal, address: IpAddr| {
            vec![Evidence { time: time + offset, principal, address }]
        };
        let public = upload(Some(address), false);
        assert!(is_attributable(&public, &evidence_at(-ATTRIBUTION_BEFORE, uploader, address)));
        assert!(!is_attributable(
            &public,
            &evidence_at(-ATTRIBUTION_BEFORE - 1, uploader, address)
        ));
        assert!(is_attributable(&public, &evidence_at(ATTRIBUTION_AFTER, uploader, address)));
        assert!(!is_attributable(&public, &evidence_at(ATTRIBUTION_AFTER + 1, uploader, address)));
        assert!(!is_attributable(&public, &evidence_at(0, Principal::User(4), address)));
        let other = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
        assert!(!is_attributable(&public, &evidence_at(0, uploader, other)));

        let private = IpAddr::V4(Ipv4Addr::new(10, 30, 1, 5));
        assert!(!is_attributable(
            &upload(Some(private), false),
            &evidence_at(0, uploader, private)
        ));
        assert!(!is_attributable(&upload(None, false), &evidence_at(0, uploader, address)));
        assert!(is_attributable(&upload(None, true), &[]));
        assert!(is_attributable(&Upload { kerberos: true, ..upload(None, false) }, &[]));
    }

    #[test]
    fn user_names_are_distinct() {
        let world = World::new(1, false);
        let mut upns: Vec<&str> = world.users.iter().map(|user| user.upn.as_str()).collect();
        upns.sort();
        upns.dedup();
        assert_eq!(upns.len(), USER_COUNT);
        assert!(world.users.iter().all(|user| user.upn.ends_with("@contoso.com")));
    }
}
