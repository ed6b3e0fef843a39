//! Object paths and file names from storage log `ObjectKey` and `Uri` values.
//!
//! `ObjectKey` is already decoded and shaped `/<account>/<container>/<blob path>`. `Uri` is the
//! percent-encoded request URL, sometimes with an explicit `:443` and a SAS query string. SMB
//! requests to Azure Files log a UNC path with backslashes in both columns.

/// Decodes `%XX` escapes (hex digits in any case) as bytes and reads the result as UTF-8.
///
/// A malformed escape such as `%G1` or a trailing `%` is kept as written, and `+` stays `+`
/// because storage URL paths do not use form encoding. If the decoded bytes are not valid
/// UTF-8, the input is returned unchanged.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;

    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%' && index + 2 < bytes.len() {
            if let (Some(high), Some(low)) =
                (hex_value(bytes[index + 1]), hex_value(bytes[index + 2]))
            {
                decoded.push(high * 16 + low);
                index += 3;
                continue;
            }
        }
        decoded.push(byte);
        index += 1;
    }

    match String::from_utf8(decoded) {
        Ok(text) => text,
        Err(_) => s.to_string(),
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Storage object location split into account, container (or share) and file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPath {
    /// Storage account name.
    pub account: String,
    /// Container, file share or ADLS file system, decoded (`$root`, `$web`).
    pub container: String,
    /// Decoded full path `/<account>/<container>/<blob path>`.
    pub path: String,
    /// Last segment of the decoded path, or empty if the path ends with `/` or names only a
    /// container.
    pub file_name: String,
}

/// Builds the object path of a storage log row from its `ObjectKey`, else from its `Uri`.
///
/// A non-empty `object_key` is used first. It is normally decoded text shaped
/// `/<account>/<container>/<path>` (the leading `/` may be missing), but a full URL or UNC path
/// in it (as logged for `CopyBlobSource` and SMB rows) is parsed like a `uri`. If the key gives
/// no account and container, `uri` is tried next.
///
/// A `uri` may be an `http(s)://` URL or a UNC path. The query string and fragment are dropped.
/// The account is the first label of a storage host: one whose second label is `blob`, `file`,
/// `dfs`, `queue`, `table`, `web` or `privatelink`, or any host containing `.core.`. A static
/// website host (`<account>.z13.web.core.windows.net`) serves the `$web` container, so its
/// whole path is the blob path. For an IP address or `localhost` host, as used by the Azurite
/// emulator, the account is the first path segment. For any other host (a custom domain) the
/// `account` argument is used.
///
/// The URL path is split on `/` before each segment is percent-decoded, so an encoded `%2F`
/// cannot shift the account or container. Inside the blob path it decodes to `/`, and
/// `file_name` is the text after the last decoded `/`.
///
/// Returns None when no account or no container can be found.
pub fn object_path(
    object_key: Option<&str>,
    uri: Option<&str>,
    account: Option<&str>,
) -> Option<ObjectPath> {
    let key = object_key.map(str::trim).filter(|key| !key.is_empty());
    if let Some(key) = key {
        let from_key = if is_url(key) || is_unc(key) {
            path_from_uri(key, account)
        } else {
            path_from_object_key(key)
        };
        if from_key.is_some() {
            return from_key;
        }
    }

    let uri = uri.map(str::trim).filter(|uri| !uri.is_empty())?;
    path_from_uri(uri, account)
}

fn is_url(text: &str) -> bool {
    strip_scheme(text).is_some()
}

fn is_unc(text: &str) -> bool {
    text.starts_with('\\')
}

fn strip_scheme(text: &str) -> Option<&str> {
    for scheme in ["https://", "http://"] {
        // Compared as bytes: slicing the text could cut a multi-byte character.
        let bytes = text.as_bytes();
        if bytes.len() >= scheme.len() && bytes[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes()) {
            return Some(&text[scheme.len()..]);
        }
    }
    None
}

fn path_from_uri(uri: &str, account: Option<&str>) -> Option<ObjectPath> {
    if is_unc(uri) {
        return path_from_unc(uri, account);
    }
    let rest = strip_scheme(uri)?;

    // The path ends at the query string or fragment, whichever comes first.
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let (authority, raw_path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..]),
        None => (rest, ""),
    };

    // NOTE: a blob in the root container may be addressed without `$root`
    // (`https://acct.blob.core.windows.net/file.txt`). Such a URI is read as container
    // `file.txt` with no blob, because the URI alone cannot tell the two apart.
    let mut segments: Vec<String> = raw_path.split('/').map(percent_decode).collect();
    let host = host_of(authority).to_ascii_lowercase();
    let account = match account_from_host(&host) {
        HostAccount::Named(name) => name,
        HostAccount::InPath => {
            if segments.len() < 2 {
                return None;
            }
            segments.remove(0)
        }
        HostAccount::Unknown => account?.trim().to_string(),
    };

    // A static website endpoint serves the `$web` container at the root of its path.
    if is_static_website_host(&host) {
        segments.insert(0, "$web".to_string());
    }
    build_object_path(account, segments)
}

/// Checks for a static website host such as `<account>.z13.web.core.windows.net`.
fn is_static_website_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 4 && labels[1..3].contains(&"web") && host.contains(".core.")
}

/// Builds the object path of a UNC path such as `\\<account>.file.core.windows.net\<share>\a.txt`.
/// Doubled backslashes and forward slashes count as one separator. UNC paths are not
/// percent-encoded, so segments are kept as written.
fn path_from_unc(unc: &str, account: Option<&str>) -> Option<ObjectPath> {
    let mut parts = unc.split(['\\', '/']).filter(|part| !part.is_empty());
    let host = parts.next()?.to_ascii_lowercase();
    let account = match account_from_host(&host) {
        HostAccount::Named(name) => name,
        HostAccount::InPath | HostAccount::Unknown => account?.trim().to_string(),
    };

    let mut segments: Vec<String> = parts.map(str::to_string).collect();
    if unc.ends_with(['\\', '/']) {
        // An empty last segment keeps the trailing separator, so file_name is empty.
        segments.push(String::new());
    }
    build_object_path(account, segments)
}

fn path_from_object_key(key: &str) -> Option<ObjectPath> {
    let body = key.strip_prefix('/').unwrap_or(key);
    let mut parts = body.splitn(2, '/');
    let account = parts.next()?.to_string();
    let segments = match parts.next() {
        Some(rest) => rest.split('/').map(str::to_string).collect(),
        None => Vec::new(),
    };
    build_object_path(account, segments)
}

/// Assembles an ObjectPath from the account and the decoded segments after it, where the first
/// segment is the container and the rest form the blob path.
fn build_object_path(account: String, segments: Vec<String>) -> Option<ObjectPath> {
    let mut segments = segments.into_iter();
    let container = segments.next().unwrap_or_default();
    if account.is_empty() || container.is_empty() {
        return None;
    }

    let blob_segments: Vec<String> = segments.collect();
    let mut path = format!("/{account}/{container}");
    let mut file_name = String::new();
    if !blob_segments.is_empty() {
        let blob_path = blob_segments.join("/");
        file_name = match blob_path.rsplit_once('/') {
            Some((_, last)) => last.to_string(),
            None => blob_path.clone(),
        };
        path.push('/');
        path.push_str(&blob_path);
    }

    Some(ObjectPath {
        account,
        container,
        path,
        file_name,
    })
}

/// Source of the account name for a given host.
enum HostAccount {
    /// First label of a storage host.
    Named(String),
    /// Path-style URL: the first path segment is the account.
    InPath,
    /// Host that does not name the account, such as a custom domain.
    Unknown,
}

/// Service labels that follow the account in storage endpoint host names.
const SERVICE_LABELS: [&str; 7] = [
    "blob",
    "file",
    "dfs",
    "queue",
    "table",
    "web",
    "privatelink",
];

fn account_from_host(host: &str) -> HostAccount {
    let host = host.trim_end_matches('.');
    if host == "localhost" || host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return HostAccount::InPath;
    }

    let labels: Vec<&str> = host.split('.').collect();
    let is_storage_host =
        labels.len() >= 3 && (SERVICE_LABELS.contains(&labels[1]) || host.contains(".core."));
    if !is_storage_host || labels[0].is_empty() {
        return HostAccount::Unknown;
    }

    // Read-access geo-redundant accounts serve reads at `<account>-secondary.*`. Account names
    // contain only lowercase letters and digits, so the suffix is never part of the name.
    let name = labels[0].strip_suffix("-secondary").unwrap_or(labels[0]);
    HostAccount::Named(name.to_string())
}

/// Returns the host part of a URL authority, without user info or port.
fn host_of(authority: &str) -> &str {
    let authority = match authority.rsplit_once('@') {
        Some((_, host_and_port)) => host_and_port,
        None => authority,
    };
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(close) => &authority[..=close],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _port)) => host,
        None => authority,
    }
}

/// Extracts the file name the way the Sentinel hunting query "User Account Linked to Storage
/// Account File Upload" does, with `extract(@"\/([\w\-. ]+)\?", 1, Uri)`.
///
/// The match is the first `/` followed by one or more ASCII letters, digits, `_`, `-`, `.` or
/// spaces and then directly by `?`. KQL regular expressions use RE2, where `\w` is the ASCII
/// class `[0-9A-Za-z_]`. Returns an empty string when nothing matches, which includes every URI
/// without a query string and every name with a `%` escape, `+`, parentheses or non-ASCII text.
pub fn reference_file_name(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let is_name_byte =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.' | b' ');

    for (slash, _) in uri.match_indices('/') {
        let start = slash + 1;
        let mut end = start;
        while end < bytes.len() && is_name_byte(bytes[end]) {
            end += 1;
        }

        // The greedy run cannot backtrack into a match, because a shorter run is always
        // followed by another name character rather than `?`.
        if end > start && bytes.get(end) == Some(&b'?') {
            return uri[start..end].to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_uri(uri: &str) -> ObjectPath {
        match object_path(None, Some(uri), None) {
            Some(path) => path,
            None => panic!("no object path in {uri:?}"),
        }
    }

    fn from_key(key: &str) -> ObjectPath {
        match object_path(Some(key), None, None) {
            Some(path) => path,
            None => panic!("no object path in key {key:?}"),
        }
    }

    #[test]
    fn multi_byte_character_at_scheme_end() {
        // `https:/é` is 8 bytes, and its 8th byte is inside `é`.
        assert!(object_path(None, Some("https:/é.blob.core.windows.net/c/x"), None).is_none());
    }

    #[test]
    fn decode_space() {
        assert_eq!(percent_decode("report%20Q1.pdf"), "report Q1.pdf");
    }

    #[test]
    fn decode_two_byte_utf8() {
        assert_eq!(percent_decode("caf%C3%A9.txt"), "café.txt");
        assert_eq!(percent_decode("caf%c3%a9.txt"), "café.txt");
    }

    #[test]
    fn decode_three_byte_utf8() {
        assert_eq!(percent_decode("%E2%82%AC100.txt"), "€100.txt");
    }

    #[test]
    fn decode_reserved_characters() {
        assert_eq!(percent_decode("%24web"), "$web");
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("%28copy%29"), "(copy)");
        assert_eq!(percent_decode("AAAA%3D%3D"), "AAAA==");
    }

    #[test]
    fn decode_plus_kept() {
        assert_eq!(percent_decode("a+b.txt"), "a+b.txt");
        assert_eq!(percent_decode("a%2Bb.txt"), "a+b.txt");
    }

    #[test]
    fn decode_malformed_kept() {
        assert_eq!(percent_decode("100%G1"), "100%G1");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("100%4"), "100%4");
        assert_eq!(percent_decode("%%41"), "%A");
    }

    #[test]
    fn decode_invalid_utf8_unchanged() {
        assert_eq!(percent_decode("caf%E9.txt"), "caf%E9.txt");
        assert_eq!(percent_decode("%C3"), "%C3");
    }

    #[test]
    fn decode_plain_text() {
        assert_eq!(percent_decode(""), "");
        assert_eq!(percent_decode("dir/file.txt"), "dir/file.txt");
        assert_eq!(percent_decode("é%20x"), "é x");
    }

    #[test]
    fn uri_with_sas_query() {
        let path = from_uri(
            "https://acct.blob.core.windows.net/cont/report%20Q1.pdf?se=2022-07-06T12%3A32%3A20Z&sig=XXXXX&sp=r&sv=2021-06-08&sr=b",
        );
        assert_eq!(path.account, "acct");
        assert_eq!(path.container, "cont");
        assert_eq!(path.path, "/acct/cont/report Q1.pdf");
        assert_eq!(path.file_name, "report Q1.pdf");
    }

    #[test]
    fn uri_without_query() {
        let path = from_uri("https://acct.blob.core.windows.net/cont/dir/sub/data.csv");
        assert_eq!(path.path, "/acct/cont/dir/sub/data.csv");
        assert_eq!(path.file_name, "data.csv");
    }

    #[test]
    fn uri_explicit_port() {
        let path = from_uri("https://acct.blob.core.windows.net:443/cont/path/%24default/checkpoint/0?comp=metadata");
        assert_eq!(path.account, "acct");
        assert_eq!(path.container, "cont");
        assert_eq!(path.path, "/acct/cont/path/$default/checkpoint/0");
        assert_eq!(path.file_name, "0");
    }

    #[test]
    fn uri_fragment_dropped() {
        let path = from_uri("https://acct.blob.core.windows.net/cont/a.txt#part");
        assert_eq!(path.file_name, "a.txt");
    }

    #[test]
    fn uri_unicode_names() {
        assert_eq!(
            from_uri("https://a.blob.core.windows.net/c/caf%C3%A9.txt?sig=X").file_name,
            "café.txt"
        );
        assert_eq!(
            from_uri("https://a.blob.core.windows.net/c/%E2%82%AC.txt").file_name,
            "€.txt"
        );
    }

    #[test]
    fn uri_parentheses_and_plus() {
        let path = from_uri("https://a.blob.core.windows.net/c/a+b%20(1).txt?comp=block");
        assert_eq!(path.file_name, "a+b (1).txt");
        let encoded = from_uri("https://a.blob.core.windows.net/c/a%2Bb%20%281%29.txt");
        assert_eq!(encoded.file_name, "a+b (1).txt");
    }

    #[test]
    fn uri_special_containers() {
        let root = from_uri("https://a.blob.core.windows.net/$root/index.html");
        assert_eq!(root.container, "$root");
        assert_eq!(root.path, "/a/$root/index.html");

        let web = from_uri("https://a.blob.core.windows.net/%24web/site/index.html?sv=2021");
        assert_eq!(web.container, "$web");
        assert_eq!(web.path, "/a/$web/site/index.html");
        assert_eq!(web.file_name, "index.html");
    }

    #[test]
    fn uri_service_hosts() {
        let file =
            from_uri("https://acct.file.core.windows.net/share/test.jpg?comp=range&sig=XXXXX");
        assert_eq!(
            (file.account.as_str(), file.container.as_str()),
            ("acct", "share")
        );
        assert_eq!(file.file_name, "test.jpg");

        let dfs =
            from_uri("https://acct.dfs.core.windows.net/fs/dir/file.png?action=append&position=0");
        assert_eq!(dfs.path, "/acct/fs/dir/file.png");

        let queue = from_uri("https://acct.queue.core.windows.net/jobs/messages");
        assert_eq!(queue.container, "jobs");
        assert_eq!(queue.file_name, "messages");
    }

    #[test]
    fn uri_http_and_case() {
        let path = from_uri("HTTP://Acct.Blob.Core.Windows.Net/cont/File.TXT");
        assert_eq!(path.account, "acct");
        assert_eq!(path.container, "cont");
        assert_eq!(path.file_name, "File.TXT");
    }

    #[test]
    fn uri_static_website() {
        let path = from_uri("https://acct.z13.web.core.windows.net/docs/index.html");
        assert_eq!(path.account, "acct");
        assert_eq!(path.container, "$web");
        assert_eq!(path.path, "/acct/$web/docs/index.html");
        assert_eq!(path.file_name, "index.html");

        let root = from_uri("https://acct.web.core.windows.net/");
        assert_eq!(root.path, "/acct/$web/");
        assert_eq!(root.file_name, "");
    }

    #[test]
    fn uri_private_link_host() {
        let path = from_uri("https://acct.privatelink.blob.core.windows.net/cont/a.txt");
        assert_eq!(path.account, "acct");
        assert_eq!(path.path, "/acct/cont/a.txt");
    }

    #[test]
    fn uri_secondary_endpoint() {
        let path = from_uri("https://acct-secondary.blob.core.windows.net/cont/a.txt");
        assert_eq!(path.account, "acct");
    }

    #[test]
    fn uri_emulator_path_style() {
        let path = from_uri("http://127.0.0.1:10000/devstoreaccount1/container/blob");
        assert_eq!(path.account, "devstoreaccount1");
        assert_eq!(path.container, "container");
        assert_eq!(path.path, "/devstoreaccount1/container/blob");
        assert_eq!(path.file_name, "blob");

        let local = from_uri("http://localhost:10000/devstoreaccount1/c/d/e.txt?comp=block");
        assert_eq!(local.path, "/devstoreaccount1/c/d/e.txt");

        let v6 = from_uri("http://[::1]:10000/devstoreaccount1/c/e.txt");
        assert_eq!(v6.account, "devstoreaccount1");
        assert_eq!(v6.file_name, "e.txt");
    }

    #[test]
    fn uri_custom_domain_account() {
        let uri = "https://files.contoso.com/cont/a.txt";
        let path = object_path(None, Some(uri), Some("contosodata"));
        assert_eq!(
            path.as_ref().map(|p| p.path.as_str()),
            Some("/contosodata/cont/a.txt")
        );
        assert_eq!(object_path(None, Some(uri), None), None);
    }

    #[test]
    fn uri_host_beats_argument() {
        let path = object_path(
            None,
            Some("https://acct.blob.core.windows.net/c/a.txt"),
            Some("other"),
        );
        assert_eq!(path.map(|p| p.account), Some("acct".to_string()));
    }

    #[test]
    fn uri_encoded_slash() {
        // The container comes from the raw segments, and the decoded `/` splits the file name.
        let path = from_uri("https://a.blob.core.windows.net/c%2Fx/dir%2Fsub%2Ffile.txt");
        assert_eq!(path.container, "c/x");
        assert_eq!(path.path, "/a/c/x/dir/sub/file.txt");
        assert_eq!(path.file_name, "file.txt");
    }

    #[test]
    fn uri_trailing_slash() {
        let path = from_uri("https://a.blob.core.windows.net/c/dir/?restype=directory");
        assert_eq!(path.path, "/a/c/dir/");
        assert_eq!(path.file_name, "");
    }

    #[test]
    fn uri_container_only() {
        let path = from_uri("https://a.blob.core.windows.net/c?restype=container");
        assert_eq!(path.container, "c");
        assert_eq!(path.path, "/a/c");
        assert_eq!(path.file_name, "");
    }

    #[test]
    fn uri_unusable() {
        let values = [
            "https://a.blob.core.windows.net/?comp=list",
            "https://a.blob.core.windows.net",
            "ftp://a.blob.core.windows.net/c/x",
            "a.blob.core.windows.net/c/x",
            "http://127.0.0.1:10000/devstoreaccount1",
            "",
            "   ",
        ];
        for value in values {
            assert_eq!(
                object_path(None, Some(value), None),
                None,
                "value {value:?}"
            );
        }
        assert_eq!(object_path(None, None, Some("acct")), None);
    }

    #[test]
    fn unc_path() {
        let path = from_uri(r"\\acct.file.core.windows.net\share\dir\file.docx");
        assert_eq!(path.account, "acct");
        assert_eq!(path.container, "share");
        assert_eq!(path.path, "/acct/share/dir/file.docx");
        assert_eq!(path.file_name, "file.docx");
    }

    #[test]
    fn unc_doubled_backslashes() {
        let path = from_uri(r"\\\\acct.file.core.windows.net\\share\\dir\\file.txt");
        assert_eq!(path.path, "/acct/share/dir/file.txt");
        assert_eq!(path.file_name, "file.txt");
    }

    #[test]
    fn unc_not_decoded() {
        let path = from_uri(r"\\acct.file.core.windows.net\share\100%20.txt");
        assert_eq!(path.file_name, "100%20.txt");
    }

    #[test]
    fn unc_trailing_backslash() {
        let path = from_uri(r"\\acct.file.core.windows.net\share\dir\");
        assert_eq!(path.path, "/acct/share/dir/");
        assert_eq!(path.file_name, "");
    }

    #[test]
    fn unc_ip_host_uses_argument() {
        let path = object_path(None, Some(r"\\10.1.2.3\share\a.txt"), Some("acct"));
        assert_eq!(path.map(|p| p.path), Some("/acct/share/a.txt".to_string()));
        assert_eq!(
            object_path(None, Some(r"\\10.1.2.3\share\a.txt"), None),
            None
        );
    }

    #[test]
    fn key_with_leading_slash() {
        let path = from_key("/acct/cont/dir/my file (1).txt");
        assert_eq!(path.account, "acct");
        assert_eq!(path.container, "cont");
        assert_eq!(path.path, "/acct/cont/dir/my file (1).txt");
        assert_eq!(path.file_name, "my file (1).txt");
    }

    #[test]
    fn key_without_leading_slash() {
        let path = from_key("acct/cont/a.txt");
        assert_eq!(path.path, "/acct/cont/a.txt");
        assert_eq!(path.file_name, "a.txt");
    }

    #[test]
    fn key_not_decoded_again() {
        let path = from_key("/acct/cont/100%20.txt");
        assert_eq!(path.file_name, "100%20.txt");
    }

    #[test]
    fn key_trailing_slash() {
        let path = from_key("/acct/cont/dir/");
        assert_eq!(path.path, "/acct/cont/dir/");
        assert_eq!(path.file_name, "");
    }

    #[test]
    fn key_container_only() {
        let path = from_key("/acct/cont");
        assert_eq!(path.path, "/acct/cont");
        assert_eq!(path.file_name, "");
    }

    #[test]
    fn key_special_containers() {
        assert_eq!(from_key("/acct/$root/a.txt").container, "$root");
        assert_eq!(from_key("/acct/$web/index.html").container, "$web");
        assert_eq!(
            from_key("/acct/cont/$default/checkpoint/0").path,
            "/acct/cont/$default/checkpoint/0"
        );
    }

    #[test]
    fn key_preferred_over_uri() {
        let path = object_path(
            Some("/acct/cont/$default/checkpoint/0"),
            Some("https://acct.blob.core.windows.net:443/cont/other.txt"),
            None,
        );
        assert_eq!(
            path.map(|p| p.path),
            Some("/acct/cont/$default/checkpoint/0".to_string())
        );
    }

    #[test]
    fn key_empty_falls_back() {
        let uri = Some("https://acct.blob.core.windows.net/cont/a%20b.txt?sig=XXXXX");
        for key in [None, Some(""), Some("  ")] {
            let path = object_path(key, uri, None);
            assert_eq!(
                path.map(|p| p.path),
                Some("/acct/cont/a b.txt".to_string()),
                "key {key:?}"
            );
        }
    }

    #[test]
    fn key_unusable_falls_back() {
        let path = object_path(
            Some("/acct"),
            Some("https://acct.blob.core.windows.net/cont/a.txt"),
            None,
        );
        assert_eq!(path.map(|p| p.path), Some("/acct/cont/a.txt".to_string()));
        assert_eq!(object_path(Some("/acct"), None, None), None);
        assert_eq!(object_path(Some("/"), None, None), None);
    }

    #[test]
    fn key_as_source_url() {
        let path = from_key("https://src.blob.core.windows.net/in/a%20b.bin?sv=2021&sig=XXXXX");
        assert_eq!(path.account, "src");
        assert_eq!(path.path, "/src/in/a b.bin");
    }

    #[test]
    fn key_as_unc_path() {
        let path = from_key(r"\\acct.file.core.windows.net\share\dir\file.txt");
        assert_eq!(path.path, "/acct/share/dir/file.txt");
    }

    #[test]
    fn reference_basic() {
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/mimikatz.exe?sv=2021-06-08"),
            "mimikatz.exe"
        );
    }

    #[test]
    fn reference_percent_breaks_match() {
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/report%20Q1.pdf?sig=X"),
            ""
        );
    }

    #[test]
    fn reference_needs_query() {
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/mimikatz.exe"),
            ""
        );
    }

    #[test]
    fn reference_space_allowed() {
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/a b.txt?x"),
            "a b.txt"
        );
    }

    #[test]
    fn reference_class_edges() {
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/my_file-v2.tar.gz?x"),
            "my_file-v2.tar.gz"
        );
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/a+b.txt?x"),
            ""
        );
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/a(1).txt?x"),
            ""
        );
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/café.txt?x"),
            ""
        );
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/?comp=list"),
            ""
        );
    }

    #[test]
    fn reference_first_match_wins() {
        // With no path, the host itself is the first `/name?` match.
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net?comp=list"),
            "a.blob.core.windows.net"
        );
        // A match may also come from later text when the path has none.
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net/c/x%20y?copy=/src/b.txt?z"),
            "b.txt"
        );
        // `:` is not a name character, so the run over the host stops at the port.
        assert_eq!(
            reference_file_name("https://a.blob.core.windows.net:443/c?restype=container"),
            "c"
        );
    }
}
