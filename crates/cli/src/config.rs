//! `ena serve` settings in layers: `ena.toml`, then `ENA_*` environment variables, then flags — each
//! later layer wins. Raw inputs are parsed here (no I/O beyond reading the file); `serve` acts on the
//! resolved [`Settings`].

use std::net::SocketAddr;
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Flags of `ena serve`. Each may also come from its `ENA_*` variable or from `ena.toml`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Settings come from three layers; a later one wins:
  1. ena.toml (from --config, ENA_CONFIG, or ./ena.toml if it exists), keys as in the flags with '_':
       listen = \"127.0.0.1:8080\"
       data_dir = \"./ena-data\"
       database_url = \"postgres://ena@db/ena\"
       log_format = \"json\"
       log_level = \"info\"
       body_limit = 1048576
       request_timeout_secs = 30
       audit_origin = \"agency.example/ena/audit\"
       audit_rules = \"rules.toml\"
       public_url = \"https://ena.agency.example\"
       node_listen = \"0.0.0.0:8443\"
       production = true
       test_eid = false
       notice_webhook = \"https://ombud.agency.example/hook\"
       key_encryption_key = \"/etc/ena/key-encryption.key\"   # the same file for every instance of a deployment
       witnessed_logs = [\"other.example/log+1a2b3c4d+AQ…\"]   # verifier keys this witness cosigns (besides members' logs)
       [[test_eid_clients]]   # test eID clients (client_id, client_secret_sha256, redirect_uris), besides the API's
       [[oidc_providers]]   # more e-ID providers for /login (id, name, issuer, client_id, client_secret)
  2. environment variables ENA_LISTEN, ENA_DATA_DIR, ENA_DATABASE_URL, ENA_LOG_FORMAT, ENA_LOG_LEVEL,
     ENA_BODY_LIMIT, ENA_REQUEST_TIMEOUT_SECS, ENA_AUDIT_ORIGIN, ENA_AUDIT_RULES,
     ENA_PUBLIC_URL, ENA_NODE_LISTEN, ENA_PRODUCTION, ENA_TEST_EID, ENA_NOTICE_WEBHOOK,
     ENA_KEY_ENCRYPTION_KEY
  3. the flags above
Without --database-url, ena uses the embedded SQLite database DATA_DIR/ena.db.")]
pub struct ServeArgs {
    /// Settings file (TOML).
    #[arg(long, env = "ENA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ENA_LISTEN")]
    pub listen: Option<String>,
    /// Directory for the embedded database, the lock file and (later) keys [default: ./ena-data].
    #[arg(long, env = "ENA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of the embedded SQLite database.
    #[arg(long, env = "ENA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log format [default: human].
    #[arg(long, env = "ENA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `debug,sqlx=warn` [default: info].
    #[arg(long, env = "ENA_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long, env = "ENA_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Seconds a request may take before it is answered 408 [default: 30].
    #[arg(long, env = "ENA_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// The audit log's origin (a schema-less URL naming this log) [default: localhost/ena/audit].
    #[arg(long, env = "ENA_AUDIT_ORIGIN")]
    pub audit_origin: Option<String>,
    /// Follow-up rules file (TOML, see data/audit/rules.toml) [default: the shipped rules].
    #[arg(long, env = "ENA_AUDIT_RULES")]
    pub audit_rules: Option<PathBuf>,
    /// The URL this instance is reached at: the federation trust anchor's entity identifier
    /// [default: http://LISTEN].
    #[arg(long, env = "ENA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Also listen for member nodes with mutual TLS on this address (client certificates from the
    /// federation CA), e.g. 0.0.0.0:8443 [default: off].
    #[arg(long, env = "ENA_NODE_LISTEN")]
    pub node_listen: Option<String>,
    /// Production mode: the built-in test eID provider is off unless --test-eid true.
    #[arg(long, env = "ENA_PRODUCTION")]
    pub production: Option<bool>,
    /// Serve the built-in test eID provider (TEST ONLY) [default: true, false in production mode].
    #[arg(long, env = "ENA_TEST_EID")]
    pub test_eid: Option<bool>,
    /// POST Mina ombud notices (CloudEvents JSON) to this URL, besides showing them in the portal.
    #[arg(long, env = "ENA_NOTICE_WEBHOOK")]
    pub notice_webhook: Option<String>,
    /// The deployment's key-encryption key file, which opens the keys kept in the database; every
    /// instance of one deployment is given the same file [default: DATA_DIR/key-encryption.key, made by
    /// the first instance].
    #[arg(long, env = "ENA_KEY_ENCRYPTION_KEY")]
    pub key_encryption_key: Option<PathBuf>,
    /// Publish Mina ärenden's events for `nats` subscriptions to this NATS server (JetStream stream
    /// ENA_CASES), e.g. nats://127.0.0.1:4222; needs an ena built with the `nats` feature [default: off].
    #[arg(long, env = "ENA_NATS_URL")]
    pub nats_url: Option<String>,
    /// Run the built-in mailbox of Mina meddelanden on the letters of this mailbox-operator node (its
    /// data directory, made with `ena node init --mailbox-operator`); it may be made after this starts.
    #[arg(long, env = "ENA_MAILBOX_NODE")]
    pub mailbox_node: Option<PathBuf>,
    /// Days the built-in mailbox keeps a message after it arrives (unless it expires sooner) [default: 730].
    #[arg(long, env = "ENA_MAILBOX_RETENTION_DAYS")]
    pub mailbox_retention_days: Option<i64>,
    /// Send notices — new mail, Min profil's verification codes — through this shell command (an e-mail
    /// or SMS gateway's client): it runs per notice with the notice as JSON on its standard input
    /// (`kind`: mail or verification-code) [default: log only].
    #[arg(long, env = "ENA_NOTIFY_COMMAND", alias = "mailbox-notify-command")]
    pub notify_command: Option<String>,
}

/// The file layer; unknown keys are refused so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    body_limit: Option<usize>,
    request_timeout_secs: Option<u64>,
    audit_origin: Option<String>,
    audit_rules: Option<PathBuf>,
    public_url: Option<String>,
    node_listen: Option<String>,
    production: Option<bool>,
    test_eid: Option<bool>,
    notice_webhook: Option<String>,
    key_encryption_key: Option<PathBuf>,
    nats_url: Option<String>,
    mailbox_node: Option<PathBuf>,
    mailbox_retention_days: Option<i64>,
    notify_command: Option<String>,
    /// The name `notify_command` had before it served Min profil too.
    mailbox_notify_command: Option<String>,
    #[serde(default)]
    oidc_providers: Vec<ena_identity::rp::ProviderConfig>,
    #[serde(default)]
    witnessed_logs: Vec<String>,
    #[serde(default)]
    test_eid_clients: Vec<ena_identity::testeid::TestClient>,
}

/// What `serve` runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub audit_origin: String,
    pub audit_rules: ena_audit::RuleSet,
    pub public_url: Option<String>,
    pub node_listen: Option<SocketAddr>,
    pub production: bool,
    pub test_eid: bool,
    /// OpenID providers offered at /login besides the test eID (file only: they hold secrets).
    pub oidc_providers: Vec<ena_identity::rp::ProviderConfig>,
    /// Where Mina ombud notices are also POSTed.
    pub notice_webhook: Option<String>,
    /// Verifier keys of logs outside the federation that this instance's witness cosigns (file only).
    pub witnessed_logs: Vec<String>,
    /// Test eID clients (file only; secrets as SHA-256).
    pub test_eid_clients: Vec<ena_identity::testeid::TestClient>,
    /// The deployment's key-encryption key file (None: DATA_DIR/key-encryption.key).
    pub key_encryption_key: Option<PathBuf>,
    /// NATS server for case events.
    pub nats_url: Option<String>,
    /// The built-in mailbox's node and how long it keeps mail.
    pub mailbox: Option<ena_server::MailboxSettings>,
    /// The notification sender's command (None: log only).
    pub notify_command: Option<String>,
}

fn read_file(args: &ServeArgs) -> anyhow::Result<FileSettings> {
    let (path, required) = match &args.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from("ena.toml"), false),
    };
    if !required && !path.exists() {
        return Ok(FileSettings::default());
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read settings file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("settings file {}", path.display()))
}

/// Resolve the layers. Flags and environment have already been merged by clap (a flag beats its variable).
pub fn resolve(args: &ServeArgs) -> anyhow::Result<Settings> {
    let file = read_file(args)?;
    let listen = args.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen: SocketAddr = listen
        .parse()
        .with_context(|| format!("listen address {listen:?} is not an IP:port such as 127.0.0.1:8080"))?;
    let database_url = args.database_url.clone().or(file.database_url).filter(|u| !u.is_empty());
    if let Some(url) = &database_url {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!(
                "database URL {:?} is not supported: use postgres://… or leave it out for SQLite",
                ena_store::redact_url(url)
            );
        }
    }
    let body_limit = args.body_limit.or(file.body_limit).unwrap_or(1024 * 1024);
    if body_limit == 0 {
        bail!("body limit must be at least 1 byte");
    }
    let timeout = args.request_timeout_secs.or(file.request_timeout_secs).unwrap_or(30);
    if timeout == 0 {
        bail!("request timeout must be at least 1 second");
    }
    let audit_origin = args.audit_origin.clone().or(file.audit_origin).unwrap_or_else(|| "localhost/ena/audit".into());
    if audit_origin.is_empty() || audit_origin.contains([' ', '+', '\n']) {
        bail!("audit origin {audit_origin:?} must be non-empty without spaces or '+', e.g. agency.example/ena/audit");
    }
    let audit_rules = match args.audit_rules.clone().or(file.audit_rules) {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("cannot read rules file {}", path.display()))?;
            ena_audit::RuleSet::parse(&text).map_err(|e| anyhow::anyhow!("rules file {}: {e}", path.display()))?
        }
        None => ena_audit::RuleSet::shipped(),
    };
    let public_url = args.public_url.clone().or(file.public_url).map(|u| u.trim_end_matches('/').to_owned());
    if let Some(u) = &public_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        bail!("public URL {u:?} must start with https:// (or http:// for local use)");
    }
    let node_listen = match args.node_listen.clone().or(file.node_listen) {
        Some(a) => Some(
            a.parse::<SocketAddr>()
                .with_context(|| format!("node listen address {a:?} is not an IP:port such as 0.0.0.0:8443"))?,
        ),
        None => None,
    };
    let production = args.production.or(file.production).unwrap_or(false);
    let test_eid = args.test_eid.or(file.test_eid).unwrap_or(!production);
    for (i, p) in file.oidc_providers.iter().enumerate() {
        if p.id.is_empty() || p.id == "test-eid" || !p.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!("oidc_providers[{i}].id {:?} must be letters, digits and '-', and not test-eid", p.id);
        }
        if !(p.issuer.starts_with("https://")
            || p.issuer.starts_with("http://127.0.0.1")
            || p.issuer.starts_with("http://localhost"))
        {
            bail!("oidc_providers[{i}].issuer {:?} must be an https URL", p.issuer);
        }
    }
    let notice_webhook = args.notice_webhook.clone().or(file.notice_webhook.clone());
    if let Some(url) = &notice_webhook
        && !(url.starts_with("https://") || url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost"))
    {
        bail!("notice_webhook {url:?} must be an https URL (http only for 127.0.0.1/localhost)");
    }
    for (i, key) in file.witnessed_logs.iter().enumerate() {
        ena_audit::note::NoteVerifier::parse(key)
            .map_err(|e| anyhow::anyhow!("witnessed_logs[{i}] is not a verifier key (name+id+base64): {e}"))?;
    }
    for (i, c) in file.test_eid_clients.iter().enumerate() {
        let input = ena_identity::testeid::TestClientInput {
            client_id: Some(c.client_id.clone()),
            name: c.client_id.clone(),
            redirect_uris: c.redirect_uris.clone(),
        };
        if let Err(errors) = ena_identity::testeid::check_test_client(&input) {
            let why: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.property, e.reason)).collect();
            bail!("test_eid_clients[{i}]: {}", why.join("; "));
        }
        if c.client_secret_sha256.len() != 43 {
            bail!(
                "test_eid_clients[{i}].client_secret_sha256 must be the base64url SHA-256 of the secret (43 characters)"
            );
        }
    }
    let key_encryption_key = args.key_encryption_key.clone().or(file.key_encryption_key);
    if let Some(path) = &key_encryption_key
        && !path.is_file()
    {
        bail!(
            "key_encryption_key {}: no such file (copy the deployment's key from its first instance's data directory, key-encryption.key)",
            path.display()
        );
    }
    let nats_url = args.nats_url.clone().or(file.nats_url.clone());
    if let Some(url) = &nats_url
        && !(url.starts_with("nats://") || url.starts_with("tls://"))
    {
        bail!("nats_url {url:?} must be a nats:// or tls:// URL, e.g. nats://127.0.0.1:4222");
    }
    let retention_days = args.mailbox_retention_days.or(file.mailbox_retention_days).unwrap_or(730);
    if retention_days < 1 {
        bail!("mailbox_retention_days must be at least 1 (a day), not {retention_days}");
    }
    let mailbox = args
        .mailbox_node
        .clone()
        .or(file.mailbox_node.clone())
        .map(|node_dir| ena_server::MailboxSettings { node_dir, retention_days });
    let notify_command = args
        .notify_command
        .clone()
        .or(std::env::var("ENA_MAILBOX_NOTIFY_COMMAND").ok())
        .or(file.notify_command.clone())
        .or(file.mailbox_notify_command.clone());
    Ok(Settings {
        mailbox,
        notify_command,
        nats_url,
        key_encryption_key,
        test_eid_clients: file.test_eid_clients.clone(),
        witnessed_logs: file.witnessed_logs.clone(),
        notice_webhook,
        oidc_providers: file.oidc_providers.clone(),
        production,
        test_eid,
        node_listen,
        public_url,
        audit_origin,
        audit_rules,
        listen,
        data_dir: args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("ena-data")),
        database_url,
        log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Human),
        log_level: args.log_level.clone().or(file.log_level).unwrap_or_else(|| "info".into()),
        body_limit,
        request_timeout: Duration::from_secs(timeout),
    })
}

impl Settings {
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("ena.db")
    }
}

/// For tests: resolve with an explicit file path and no flags.
#[cfg(test)]
fn from_file(path: &Path) -> anyhow::Result<Settings> {
    resolve(&ServeArgs {
        config: Some(path.to_owned()),
        listen: None,
        data_dir: None,
        database_url: None,
        log_format: None,
        log_level: None,
        body_limit: None,
        request_timeout_secs: None,
        audit_origin: None,
        audit_rules: None,
        public_url: None,
        node_listen: None,
        production: None,
        test_eid: None,
        notice_webhook: None,
        key_encryption_key: None,
        nats_url: None,
        mailbox_node: None,
        mailbox_retention_days: None,
        notify_command: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn file_values_are_used_and_flags_win() {
        let file = write("listen = \"127.0.0.1:9999\"\nlog_format = \"json\"\nbody_limit = 10\n");
        let s = from_file(file.path()).unwrap();
        assert_eq!((s.listen.port(), s.log_format, s.body_limit), (9999, LogFormat::Json, 10));
        let mut args = ServeArgs {
            config: Some(file.path().to_owned()),
            listen: Some("127.0.0.1:7777".into()),
            data_dir: None,
            database_url: None,
            log_format: None,
            log_level: None,
            body_limit: None,
            request_timeout_secs: None,
            audit_origin: None,
            audit_rules: None,
            public_url: None,
            node_listen: None,
            production: None,
            test_eid: None,
            notice_webhook: None,
            key_encryption_key: None,
            nats_url: None,
            mailbox_node: None,
            mailbox_retention_days: None,
            notify_command: None,
        };
        assert_eq!(resolve(&args).unwrap().listen.port(), 7777);
        args.listen = None;
        assert_eq!(resolve(&args).unwrap().data_dir, PathBuf::from("ena-data"));
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let file = write("listen = \"nowhere\"\n");
        assert!(from_file(file.path()).unwrap_err().to_string().contains("listen address \"nowhere\""));
        let file = write("colour = \"blue\"\n");
        let err = format!("{:#}", from_file(file.path()).unwrap_err());
        assert!(err.contains("unknown field `colour`"), "{err}");
        let file = write("database_url = \"mysql://x\"\n");
        assert!(from_file(file.path()).unwrap_err().to_string().contains("not supported"));
        let err = format!("{:#}", from_file(Path::new("/nonexistent/ena.toml")).unwrap_err());
        assert!(err.contains("cannot read settings file"), "{err}");
    }

    #[test]
    fn oidc_providers_and_production_mode_come_from_the_file() {
        let file = write(
            "production = true\n[[oidc_providers]]\nid = \"bankid\"\nname = \"BankID\"\nissuer = \"https://op.example\"\nclient_id = \"ena\"\nclient_secret = \"s\"\n",
        );
        let s = from_file(file.path()).unwrap();
        assert_eq!(s.oidc_providers.len(), 1);
        assert!(s.production && !s.test_eid, "production mode turns the test eID off");
        let bad = write(
            "[[oidc_providers]]\nid = \"test-eid\"\nname = \"x\"\nissuer = \"https://op.example\"\nclient_id = \"a\"\nclient_secret = \"s\"\n",
        );
        assert!(from_file(bad.path()).unwrap_err().to_string().contains("oidc_providers[0].id"));
        let insecure = write(
            "[[oidc_providers]]\nid = \"x\"\nname = \"x\"\nissuer = \"http://op.example\"\nclient_id = \"a\"\nclient_secret = \"s\"\n",
        );
        assert!(from_file(insecure.path()).unwrap_err().to_string().contains("https"));
    }
}
