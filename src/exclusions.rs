//! Exclusion rules: recorded reasons to set findings aside without losing them.
//!
//! A rule is a set of conditions with a reason, an author and a time. A finding matches a rule
//! when every condition the rule lists has at least one value that matches. Matching findings
//! are marked with the rule IDs; `findings --include-excluded` still shows them, and counts
//! always say how many were excluded. Rules are disabled, never deleted.

use std::net::IpAddr;

use anyhow::{bail, Result};
use duckdb::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::findings::Finding;

/// The conditions of a rule; an empty list is no condition.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Conditions {
    pub account: Vec<String>,
    pub file_contains: Vec<String>,
    pub extension: Vec<String>,
    pub ip: Vec<String>,
    pub user_agent_contains: Vec<String>,
    pub operation: Vec<String>,
    pub container: Vec<String>,
    pub path_prefix: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    pub rule_id: i64,
    pub reason: String,
    pub preset: Option<String>,
    pub conditions: Conditions,
    pub examiner: Option<String>,
    pub created_at: String,
    pub disabled_at: Option<String>,
    pub disabled_by: Option<String>,
    pub disabled_reason: Option<String>,
}

impl Rule {
    /// Describes whether the rule is enabled, or when it was disabled, by which examiner and
    /// for what reason.
    pub fn state(&self) -> String {
        let Some(at) = &self.disabled_at else { return "enabled".to_string() };
        let mut state = format!("disabled {at}");
        if let Some(by) = &self.disabled_by {
            state.push_str(&format!(" by {by}"));
        }
        if let Some(reason) = &self.disabled_reason {
            state.push_str(&format!(": {reason}"));
        }
        state
    }
}

/// A false-positive scenario that ships with the reference hunting query.
pub struct Preset {
    pub name: &'static str,
    pub reason: &'static str,
    pub conditions: fn() -> Conditions,
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "backup-jobs",
        reason: "scheduled backup jobs: file names with backup, snapshot or restore (add --account for the backup service account)",
        conditions: || Conditions { file_contains: strings(&["backup", "snapshot", "restore"]), ..Conditions::default() },
    },
    Preset {
        name: "portal-document-uploads",
        reason: "users uploading documents through the portal or Storage Explorer: document extensions (add --account for the known users)",
        conditions: || Conditions { extension: strings(&["docx", "xlsx", "pptx", "pdf"]), ..Conditions::default() },
    },
    Preset {
        name: "ci-artifacts",
        reason: "CI/CD pipelines uploading build artifacts: file names with artifact, build or package (add --account for the pipeline identity)",
        conditions: || Conditions { file_contains: strings(&["artifact", "build", "package"]), ..Conditions::default() },
    },
    Preset {
        name: "log-shipping",
        reason: "log shippers: file names with log, audit or monitor (add --ip or --user-agent-contains for the shipper)",
        conditions: || Conditions { file_contains: strings(&["log", "audit", "monitor"]), ..Conditions::default() },
    },
    Preset {
        name: "azure-file-sync",
        reason: "Azure File Sync: the sync agent's user agent (add --account for its service identity)",
        conditions: || Conditions { user_agent_contains: strings(&["AzureFileSync"]), ..Conditions::default() },
    },
];

pub fn preset(name: &str) -> Result<&'static Preset> {
    match PRESETS.iter().find(|p| p.name == name) {
        Some(preset) => Ok(preset),
        None => {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
            bail!("unknown preset `{name}`; choose one of: {}", names.join(", "))
        }
    }
}

impl crate::cli::ConditionArgs {
    pub fn into_conditions(self) -> Conditions {
        Conditions {
            account: self.account,
            file_contains: self.file_contains,
            extension: self.extension,
            ip: self.ip,
            user_agent_contains: self.user_agent_contains,
            operation: self.operation,
            container: self.container,
            path_prefix: self.path_prefix,
        }
    }
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self == &Conditions::default()
    }

    /// Adds every value of `other` to this rule's lists.
    pub fn extend(&mut self, other: Conditions) {
        self.account.extend(other.account);
        self.file_contains.extend(other.file_contains);
        self.extension.extend(other.extension);
        self.ip.extend(other.ip);
        self.user_agent_contains.extend(other.user_agent_contains);
        self.operation.extend(other.operation);
        self.container.extend(other.container);
        self.path_prefix.extend(other.path_prefix);
    }

    /// Checks values: none may be empty, and addresses and networks must parse.
    pub fn validate(&self) -> Result<()> {
        let all = [&self.account, &self.file_contains, &self.extension, &self.ip, &self.user_agent_contains, &self.operation, &self.container, &self.path_prefix];
        if all.iter().any(|values| values.iter().any(|v| v.trim().is_empty())) {
            bail!("a condition value is empty; an empty text would match every finding");
        }
        for ip in &self.ip {
            Network::parse(ip)?;
        }
        Ok(())
    }

    /// Describes the conditions in words, for listings and reports.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("account is", &self.account),
            ("file name contains", &self.file_contains),
            ("extension is", &self.extension),
            ("caller address in", &self.ip),
            ("user agent contains", &self.user_agent_contains),
            ("operation is", &self.operation),
            ("container is", &self.container),
            ("path starts with", &self.path_prefix),
        ]
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(label, values)| format!("{label} {}", values.join(" or ")))
        .collect();
        parts.join("; and ")
    }

    /// Tests a finding against every listed condition.
    pub fn matches(&self, finding: &Finding) -> bool {
        let file = finding.file_name.as_deref().unwrap_or("").to_lowercase();
        let agent = finding.upload_user_agent.as_deref().unwrap_or("").to_lowercase();
        let path = finding.object_path.as_deref().unwrap_or("");
        let container = path.split('/').nth(2).unwrap_or("");
        let accounts = accounts_of(finding);
        let any = |values: &Vec<String>, test: &dyn Fn(&str) -> bool| values.is_empty() || values.iter().any(|v| test(v));

        any(&self.account, &|v| accounts.iter().any(|a| a.eq_ignore_ascii_case(v)))
            && any(&self.file_contains, &|v| file.contains(&v.to_lowercase()))
            && any(&self.extension, &|v| file.ends_with(&format!(".{}", v.trim_start_matches('.').to_lowercase())))
            && any(&self.ip, &|v| {
                let caller = finding.caller_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
                matches!((Network::parse(v), caller), (Ok(net), Some(ip)) if net.contains(ip))
            })
            && any(&self.user_agent_contains, &|v| agent.contains(&v.to_lowercase()))
            && any(&self.operation, &|v| finding.operation.as_deref().is_some_and(|op| op.eq_ignore_ascii_case(v)))
            && any(&self.container, &|v| container.eq_ignore_ascii_case(v))
            && any(&self.path_prefix, &|v| path_has_prefix(path, v))
    }
}

/// The accounts a finding names: the attributed account and the OAuth requester. A sentinel
/// hunt attributes nothing itself, so there the only candidate counts. An ambiguous finding, or
/// a sentinel finding with several candidates, names no account: a rule for a known service
/// account must not hide an upload that another account may have made.
fn accounts_of(finding: &Finding) -> Vec<String> {
    let mut accounts: Vec<String> =
        [&finding.attributed_account, &finding.requester_upn].into_iter().flatten().cloned().collect();
    if accounts.is_empty() && finding.confidence.is_none() && finding.candidates.len() == 1 {
        accounts.extend(finding.candidates[0].account.clone());
    }
    accounts
}

/// Matches a prefix of the full object path (`/account/container/...`) or of the path inside
/// the account (`/container/...`).
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = if prefix.starts_with('/') { prefix.to_string() } else { format!("/{prefix}") };
    let inside_account = path.splitn(3, '/').nth(2).map(|rest| format!("/{rest}")).unwrap_or_default();
    path.starts_with(&prefix) || inside_account.starts_with(&prefix)
}

/// An address or a CIDR network.
#[derive(Debug)]
struct Network {
    base: IpAddr,
    prefix: u32,
}

impl Network {
    fn parse(text: &str) -> Result<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let Ok(base) = address.trim().parse::<IpAddr>() else {
            bail!("invalid address `{text}`: expected an IP address or a CIDR network such as 203.0.113.0/24");
        };
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u32>() {
                Ok(n) if n <= max => n,
                _ => bail!("invalid network `{text}`: the prefix length must be 0 to {max}"),
            },
        };
        // Callers are stored as IPv4 when they are IPv4-mapped IPv6 addresses; so is the rule.
        let (base, prefix) = match base {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                Some(_) => bail!("invalid network `{text}`: an IPv4-mapped network needs a prefix of 96 or more"),
                None => (base, prefix),
            },
            IpAddr::V4(_) => (base, prefix),
        };
        let network = Network { base, prefix };
        if network.first() != base {
            bail!(
                "invalid network `{text}`: the address has bits set after the prefix; write `{}/{prefix}` for the whole network, \
                 or the address alone for one host",
                network.first()
            );
        }
        Ok(network)
    }

    /// Returns the first address of the network.
    fn first(&self) -> IpAddr {
        let zero_host_bits = |value: u128, bits: u32| if self.prefix == 0 { 0 } else { masked(value, bits, self.prefix) << (bits - self.prefix) };
        match self.base {
            IpAddr::V4(net) => IpAddr::V4(std::net::Ipv4Addr::from(zero_host_bits(u32::from(net).into(), 32) as u32)),
            IpAddr::V6(net) => IpAddr::V6(std::net::Ipv6Addr::from(zero_host_bits(u128::from(net), 128))),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(net).into(), 32, self.prefix) == masked(u32::from(ip).into(), 32, self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), 128, self.prefix) == masked(u128::from(ip), 128, self.prefix),
            _ => false,
        }
    }
}

fn masked(value: u128, bits: u32, prefix: u32) -> u128 {
    if prefix == 0 {
        return 0;
    }
    value >> (bits - prefix)
}

/// Stores a new rule and returns its ID.
pub fn add(conn: &Connection, reason: &str, preset: Option<&str>, conditions: &Conditions, examiner: Option<&str>) -> Result<i64> {
    let json = serde_json::to_string(conditions)?;
    Ok(conn.query_row(
        "INSERT INTO exclusion_rules (reason, preset, conditions, examiner, created_at)
         VALUES (?, ?, ?, ?, now()::TIMESTAMP) RETURNING rule_id",
        params![reason, preset, json, examiner],
        |r| r.get(0),
    )?)
}

/// Disables a rule; its record stays.
pub fn disable(conn: &Connection, rule_id: i64, examiner: Option<&str>, reason: Option<&str>) -> Result<()> {
    let changed = conn.execute(
        "UPDATE exclusion_rules SET disabled_at = now()::TIMESTAMP, disabled_by = ?, disabled_reason = ?
         WHERE rule_id = ? AND disabled_at IS NULL",
        params![examiner, reason, rule_id],
    )?;
    if changed == 0 {
        let exists: i64 = conn.query_row("SELECT count(*) FROM exclusion_rules WHERE rule_id = ?", [rule_id], |r| r.get(0))?;
        if exists == 0 {
            bail!("exclusion rule {rule_id} not found; list them with `blobtrail exclude list`");
        }
        bail!("exclusion rule {rule_id} is already disabled");
    }
    Ok(())
}

/// Loads the rules that are not disabled, in creation order.
pub fn load_enabled(conn: &Connection) -> Result<Vec<Rule>> {
    Ok(load(conn)?.into_iter().filter(|rule| rule.disabled_at.is_none()).collect())
}

/// Loads every rule, enabled or not, in creation order.
pub fn load(conn: &Connection) -> Result<Vec<Rule>> {
    let mut stmt = conn.prepare(
        "SELECT rule_id, reason, preset, conditions, examiner,
                strftime(created_at, '%Y-%m-%dT%H:%M:%SZ'), strftime(disabled_at, '%Y-%m-%dT%H:%M:%SZ'), disabled_by,
                disabled_reason
         FROM exclusion_rules ORDER BY rule_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let conditions: String = r.get(3)?;
        Ok(Rule {
            rule_id: r.get(0)?,
            reason: r.get(1)?,
            preset: r.get(2)?,
            conditions: serde_json::from_str(&conditions).unwrap_or_default(),
            examiner: r.get(4)?,
            created_at: r.get(5)?,
            disabled_at: r.get(6)?,
            disabled_by: r.get(7)?,
            disabled_reason: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Candidate;

    #[test]
    fn network_with_host_bits_is_rejected() {
        let error = Network::parse("203.0.113.5/24").unwrap_err().to_string();
        assert!(error.contains("write `203.0.113.0/24`"), "{error}");
        assert!(Network::parse("203.0.113.5").is_ok(), "one host");
        assert!(Network::parse("0.0.0.0/0").is_ok());
        assert!(Network::parse("2001:db8::1/32").is_err());
    }

    #[test]
    fn mapped_ipv6_rule_matches_ipv4_callers() {
        let net = Network::parse("::ffff:203.0.113.5").unwrap();
        assert!(net.contains("203.0.113.5".parse().unwrap()));
        let net = Network::parse("::ffff:203.0.113.0/120").unwrap();
        assert!(net.contains("203.0.113.77".parse().unwrap()));
        assert!(Network::parse("::ffff:203.0.113.0/64").is_err());
    }

    #[test]
    fn cidr_contains_addresses() {
        let net = Network::parse("203.0.113.0/24").unwrap();
        assert!(net.contains("203.0.113.77".parse().unwrap()));
        assert!(!net.contains("203.0.114.1".parse().unwrap()));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:4::1a".parse().unwrap()));
        assert!(!v6.contains("203.0.113.77".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nope").is_err());
    }

    #[test]
    fn path_prefix_with_or_without_account() {
        assert!(path_has_prefix("/acct/backup/db.bak", "/acct/backup"));
        assert!(path_has_prefix("/acct/backup/db.bak", "/backup/"));
        assert!(path_has_prefix("/acct/backup/db.bak", "backup"));
        assert!(!path_has_prefix("/acct/staging/db.bak", "/backup"));
    }

    fn finding_with_candidates(confidence: Option<&str>, accounts: &[&str]) -> Finding {
        let candidates = accounts
            .iter()
            .enumerate()
            .map(|(rank, account)| Candidate { rank: rank as i64 + 1, account: Some(account.to_string()), ..Candidate::default() })
            .collect();
        Finding { confidence: confidence.map(str::to_string), candidates, ..Finding::default() }
    }

    #[test]
    fn account_rule_skips_ambiguous_findings() {
        let rule = Conditions { account: vec!["svc-backup@contoso.com".into()], ..Conditions::default() };
        let ambiguous = finding_with_candidates(Some("ambiguous"), &["svc-backup@contoso.com", "eve@contoso.com"]);
        assert!(!rule.matches(&ambiguous), "another account may have uploaded it");

        let mut attributed = finding_with_candidates(Some("strong"), &["svc-backup@contoso.com"]);
        attributed.attributed_account = Some("SVC-Backup@contoso.com".into());
        assert!(rule.matches(&attributed));

        let mut requested = finding_with_candidates(Some("direct"), &[]);
        requested.requester_upn = Some("svc-backup@contoso.com".into());
        assert!(rule.matches(&requested));

        // A sentinel finding names its candidate when it has only one.
        assert!(rule.matches(&finding_with_candidates(None, &["svc-backup@contoso.com"])));
        assert!(!rule.matches(&finding_with_candidates(None, &["svc-backup@contoso.com", "eve@contoso.com"])));
        assert!(!rule.matches(&finding_with_candidates(None, &["eve@contoso.com"])));
    }

    #[test]
    fn every_preset_has_conditions() {
        for preset in PRESETS {
            assert!(!(preset.conditions)().is_empty(), "{}", preset.name);
        }
    }
}
