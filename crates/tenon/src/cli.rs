//! The command line. Every option that configures a running server also reads an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tenon",
    version,
    about = "Tenon — an open work platform: directory, low-code apps, open API, events and ledger in one binary",
    after_help = "Exit codes: 0 success, 1 failure, 2 bad usage, 3 not found, 4 conflict, 5 invalid input, \
                  6 database unreachable."
)]
pub struct Cli {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; shared by every command, so the CLI works beside a running server.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Folder for the embedded SQLite database and other local files.
    #[arg(
        long = "data",
        env = "TENON_DATA_DIR",
        default_value = "./tenon-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://user:pass@host/db) to use instead of SQLite; or sqlite:PATH.
    #[arg(
        long,
        env = "TENON_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage third-party apps (OAuth2 clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Apps as code: export, import or diff an app definition (YAML or JSON).
    #[command(subcommand)]
    App(AppCommand),
    /// Import or export a table's records as CSV or Excel.
    #[command(subcommand)]
    Table(TableCommand),
    /// Measure this build: cold start, idle memory, and request latency/throughput over HTTP against a
    /// fresh database, each route beside an unauthenticated baseline measured in the same run.
    #[cfg(feature = "bench")]
    Bench(BenchArgs),
    /// Move books in and out: export a book's vouchers to Kingdee, Yonyou U8, SAF-T or CSV, and import
    /// such files.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Measure the ledger in-process: vouchers posted per second (batched and one by one) beside a raw
    /// insert of the same rows, the invariants after the load, the trial balance over every line, and
    /// export/import of a whole period in every format. On a fresh SQLite database, or on `--database`
    /// (give a scratch PostgreSQL database: the benchmark adds an organization to it and leaves it).
    #[cfg(feature = "bench")]
    BenchLedger(BenchLedgerArgs),
}

#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct BenchLedgerArgs {
    /// 4-line vouchers to post in batches (4 lines each: the default makes 1,000,000 lines).
    #[arg(long, default_value_t = 250_000)]
    pub vouchers: usize,
    /// How many of them fall in the last period (2026-10), which is then exported and imported.
    #[arg(long, default_value_t = 100_000)]
    pub period_vouchers: usize,
    /// Vouchers per transaction when posting in batches.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Tasks posting at the same time.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Vouchers posted one at a time (create, review, post) before the batches.
    #[arg(long, default_value_t = 2_000)]
    pub single: usize,
    /// Trial balances computed for the timing.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
}

#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Requests per route in the sequential (one keep-alive connection) phase.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Parallel keep-alive connections in the throughput phase.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Which measurements: core (auth, directory), records (the data engine), formula (formula
    /// fields at scale), events (webhook delivery and the outbox's write cost), approvals (approval
    /// actions and a to-do list among many tasks), dingtalk (DingTalk-compatible routes beside their
    /// native routes), flows (flow runs per second, trigger-to-finish latency, the watch hook's cost on
    /// bulk writes), permissions (a member's row rule beside the administrator on the same requests),
    /// ui (the browser UI's page weight, render times, grid, boards, dashboard and public
    /// form), or all.
    #[arg(long, default_value = "all")]
    pub suite: String,
    /// Rows loaded for the records, formula and permissions suites, and under the ui suite's dashboard.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Rows of the ui suite's 20-field grid table.
    #[arg(long, default_value_t = 100_000)]
    pub grid_rows: u64,
    /// Cards on the ui suite's kanban.
    #[arg(long, default_value_t = 5_000)]
    pub cards: u64,
    /// Events on the ui suite's calendar (over nine weeks around the month shown).
    #[arg(long, default_value_t = 2_000)]
    pub events: u64,
    /// Measured requests per figure of the ui and permissions suites (after a tenth as many to warm up).
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Tasks in the organization when the approvals suite reads a to-do list.
    #[arg(long, default_value_t = 1_000_000)]
    pub tasks: u64,
    /// Flow runs the flows suite starts (one paid order each).
    #[arg(long, default_value_t = 2_000)]
    pub runs: usize,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TENON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Create a demo organization with departments, members, an admin login and an API token on first start.
    #[arg(long)]
    pub demo: bool,
    /// Default rate limit per credential: off, or <N>/s, <N>/min, <N>/h, optionally ,burst=<M>.
    #[arg(long, env = "TENON_RATE_LIMIT", default_value = "1000/s")]
    pub rate_limit: String,
    /// The largest request body accepted: bytes, or with a unit (`512KiB`, `16MiB`, `1GiB`). A larger body
    /// is answered 413 with the limit in `params.limit`. File uploads (attachments) have their own limit.
    #[arg(long, env = "TENON_MAX_BODY_SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub max_body_size: usize,
    /// Send the session cookie without the Secure flag (only for plain-HTTP access from other machines).
    #[arg(long, env = "TENON_INSECURE_COOKIES")]
    pub insecure_cookies: bool,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "TENON_LOG_JSON")]
    pub log_json: bool,
    /// Webhook and flow request (`http`, `robot`) targets allowed besides public addresses: comma-separated host names, IP addresses and
    /// CIDR blocks (private, loopback and link-local addresses are blocked otherwise).
    #[arg(long, env = "TENON_OUTBOUND_ALLOW", default_value = "")]
    pub outbound_allow: String,
    /// Webhook delivery workers on this node (0 sends nothing; another node may). Default: 1 on SQLite,
    /// whose single writer the workers would only queue on (more of them slow record writes down), and 4
    /// on PostgreSQL.
    #[arg(long, env = "TENON_DELIVERY_WORKERS")]
    pub delivery_workers: Option<usize>,
    /// Flow workers on this node (0 runs no flows; another node may). Default: 1 on SQLite, 4 on
    /// PostgreSQL.
    #[arg(long, env = "TENON_FLOW_WORKERS")]
    pub flow_workers: Option<usize>,
    /// Seconds one webhook attempt may take, connection included.
    #[arg(long, env = "TENON_WEBHOOK_TIMEOUT", default_value_t = 10.0)]
    pub webhook_timeout: f64,
    /// Seconds between an idle worker's looks for due deliveries (it also wakes on a local commit that
    /// appended events).
    #[arg(long, env = "TENON_DELIVERY_POLL", default_value_t = 1.0)]
    pub delivery_poll: f64,
    /// Days events and their webhook delivery logs are kept (0: forever). Checked at start and hourly; an
    /// older event goes once none of its deliveries is pending, but an organization's newest event stays.
    #[arg(long, env = "TENON_EVENT_RETENTION_DAYS", default_value_t = tenon_events::worker::EVENT_RETENTION_DAYS_DEFAULT)]
    pub event_retention_days: u32,
    /// The key connections' secrets are encrypted with (32 raw bytes; made, mode 0600, if missing).
    /// Default: <data>/secret.key. PostgreSQL nodes sharing a database must share one file.
    #[arg(long, env = "TENON_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// For end-to-end tests only: the clock stands still until `POST /api/v1/_test/clock {"now"}` (admin)
    /// moves it, and is kept in <data>/test-clock across restarts. Without it that route answers 404.
    #[arg(long)]
    pub test_clock: bool,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization with its owner. Prints only the new organization's id.
    Create(OrgCreateArgs),
    /// List organizations as "ID<TAB>NAME" lines.
    List,
}

#[derive(Debug, Args)]
pub struct OrgCreateArgs {
    /// The organization's name.
    pub name: String,
    /// The owner's e-mail address (their login).
    #[arg(long)]
    pub admin_email: String,
    /// The owner's password (8+ characters).
    #[arg(long, env = "TENON_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// The owner's display name.
    #[arg(long, default_value = "Admin")]
    pub admin_name: String,
    /// IANA time zone of the organization.
    #[arg(long, default_value = "Asia/Shanghai")]
    pub time_zone: String,
    /// zh-CN or en.
    #[arg(long, default_value = "zh-CN")]
    pub locale: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an organization API token, or with --member a member's personal token. Prints only the
    /// token, once.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Organization id (or its exact name).
    #[arg(long)]
    pub org: String,
    /// A name to recognize the token by.
    #[arg(long)]
    pub name: String,
    /// Comma-separated scopes, e.g. directory:read,records:write (admin implies all).
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Days until the token expires (default: never).
    #[arg(long)]
    pub expires_in_days: Option<u32>,
    /// The token's own rate limit, e.g. 50/s.
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// Make a personal token acting for this member (their e-mail address): it acts as they do (approvals
    /// record them), and its scopes must be ones their role holds.
    #[arg(long, value_name = "EMAIL")]
    pub member: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a third-party app and install it in ORG. Prints "CLIENT_ID CLIENT_SECRET" on one line.
    Create(ClientCreateArgs),
}

#[derive(Debug, Args)]
pub struct ClientCreateArgs {
    /// Organization id (or its exact name) to install the app in.
    #[arg(long)]
    pub org: String,
    /// The app's name.
    #[arg(long)]
    pub name: String,
    /// Comma-separated scopes the organization grants the app.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// The app's rate limit in this organization, e.g. 50/s.
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// How its stream frames name events: native (the default) or dingtalk (DingTalk's event types and
    /// camelCase data).
    #[arg(long, value_parser = ["native", "dingtalk"])]
    pub event_format: Option<String>,
    /// Where DingTalk-style sign-in (`/oauth2/authorize`) may send a member back: an http:// or https://
    /// URL with a host, no query or fragment. Repeat it for several (at most 10).
    #[arg(long = "redirect-uri", value_name = "URL")]
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Write an app's definition to stdout (or --out FILE).
    Export(AppExportArgs),
    /// Create the app a definition describes, or migrate the existing app with its key to it.
    Import(AppImportArgs),
    /// Show the steps an import of FILE would take, changing nothing.
    Diff(AppDiffArgs),
}

#[derive(Debug, Args)]
pub struct AppExportArgs {
    /// Organization id (or its exact name).
    #[arg(long)]
    pub org: String,
    /// App id or key.
    pub app: String,
    /// yaml or json.
    #[arg(long, default_value = "yaml")]
    pub format: String,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AppImportArgs {
    #[arg(long)]
    pub org: String,
    /// A definition file (.yaml, .yml or .json).
    pub file: PathBuf,
    /// Allow steps that delete tables or fields with their data.
    #[arg(long)]
    pub allow_deletions: bool,
    /// Import the app without publishing the file's flows.
    #[arg(long)]
    pub no_flows: bool,
}

#[derive(Debug, Args)]
pub struct AppDiffArgs {
    #[arg(long)]
    pub org: String,
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Import a CSV or Excel file into a table; prints a summary and every row that was not imported.
    Import(TableImportArgs),
    /// Export a table as CSV or Excel.
    Export(TableExportArgs),
}

#[derive(Debug, Args)]
pub struct TableImportArgs {
    #[arg(long)]
    pub org: String,
    /// App id or key.
    #[arg(long)]
    pub app: String,
    /// Table id or key.
    #[arg(long)]
    pub table: String,
    /// The file (.csv, .xlsx, .xls, .ods).
    pub file: PathBuf,
    /// Map a file header to a field key: --map "入住人=guest" (repeatable).
    #[arg(long = "map", value_name = "HEADER=FIELD")]
    pub mapping: Vec<String>,
    /// Check every row without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the valid rows even when others are refused. By default the import is all or nothing: one
    /// refused row writes nothing. Either way the exit code is 5 when a row was refused.
    #[arg(long)]
    pub partial: bool,
    /// Update the records rows match on this unique field (or on the fields of a unique_together group:
    /// --upsert-on student,week or the flag repeated) instead of creating new ones; blank cells keep the
    /// record's values.
    #[arg(long = "upsert-on", value_name = "FIELD", value_delimiter = ',')]
    pub upsert_on: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TableExportArgs {
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub app: String,
    #[arg(long)]
    pub table: String,
    /// csv or xlsx (default: from --out's extension, else csv).
    #[arg(long)]
    pub format: Option<String>,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write the posted vouchers of a period (or a range of periods) of a book to FILE, with the chart and
    /// the dimension values. Prints a summary to check against the other system.
    Export(LedgerExportArgs),
    /// Read FILE into a book (created with that name if absent): accounts it lacks, dimension values and
    /// every voucher with its own number and state. All or nothing. Prints a summary.
    Import(LedgerImportArgs),
}

/// What both directions share.
#[derive(Debug, Args)]
pub struct LedgerFileArgs {
    /// Organization id or exact name.
    #[arg(long)]
    pub org: String,
    /// Book id or name.
    #[arg(long)]
    pub book: String,
    /// kingdee (金蝶云星空 GL_VOUCHER JSON), yonyou-u8 (用友U8 EAI XML), saft (SAF-T Financial 1.30; import
    /// also reads 1.10) or csv.
    #[arg(long)]
    pub format: String,
    /// Kingdee FDetailID flex slot per dimension, e.g. customer=FFLEX6,supplier=FFLEX4 (slots vary by tenant;
    /// default customer=FFLEX6, supplier=FFLEX4, department=FFLEX5, employee=FFLEX7).
    #[arg(long, value_delimiter = ',')]
    pub kingdee_slots: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LedgerExportArgs {
    #[command(flatten)]
    pub file: LedgerFileArgs,
    /// One period, YYYY-MM.
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    pub period: Option<String>,
    /// First period of a range, YYYY-MM (with --to).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last period of a range, YYYY-MM (with --from).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Also export draft and reviewed vouchers (formats that record no state import them as posted; the
    /// summary says so).
    #[arg(long)]
    pub include_unposted: bool,
    /// SAF-T AuditFileCountry (ISO 3166 alpha-2).
    #[arg(long, default_value = "CN")]
    pub country: String,
    /// yonyou-u8 only: the EAI document to write, one per file as U8's EAI reads it — voucher (default),
    /// code (the chart), customer, vendor, department, person or fitem.
    #[arg(long)]
    pub document: Option<String>,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct LedgerImportArgs {
    #[command(flatten)]
    pub file: LedgerFileArgs,
    /// Base currency of a new book when the file does not say (SAF-T files do).
    #[arg(long, default_value = "CNY")]
    pub base_currency: String,
    /// Read and check the file and print its summary, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The file to read.
    pub path: PathBuf,
}

/// A size in bytes: a whole number, optionally followed by `B`, `KiB`, `MiB` or `GiB`.
pub fn parse_size(raw: &str) -> Result<usize, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit \"{other}\"; give bytes, or a number with B, KiB, MiB or GiB"
            ));
        }
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("\"{raw}\" is not a size; give e.g. 16MiB or 1048576"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_bytes_or_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("16MB").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
