//! What each command does, and how failures become exit codes.

use std::sync::Arc;

use chrono::TimeDelta;
use tenon_auth::SecretKind;
use tenon_model::{
    Checker, Email, Invalid, Locale, Name, NewMember, OptionalText, Password, RateLimit, Role,
    ScopeSet, TimeZone,
};
use tenon_server::{AppState, ServerConfig};
use tenon_store::{
    ClientRegistration, DatabaseConfig, NewOrganization, NewToken, Store, StoreError, SystemClock,
    WriteContext,
};

use crate::cli::{Cli, ClientCommand, Command, OrgCommand, ServeArgs, StorageArgs, TokenCommand};

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_NOT_FOUND: u8 = 3;
pub const EXIT_CONFLICT: u8 = 4;
pub const EXIT_INVALID: u8 = 5;
pub const EXIT_UNAVAILABLE: u8 = 6;

/// A command failed: what to print, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    pub(crate) fn new(exit_code: u8, message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            exit_code,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let exit_code = match &error {
            StoreError::NotFound { .. } => EXIT_NOT_FOUND,
            StoreError::Conflict { .. } => EXIT_CONFLICT,
            StoreError::Invalid(_) | StoreError::Config(_) => EXIT_INVALID,
            other if other.is_unavailable() => EXIT_UNAVAILABLE,
            _ => EXIT_FAILURE,
        };
        Failure::new(exit_code, error.to_string())
    }
}

impl From<Invalid> for Failure {
    fn from(invalid: Invalid) -> Self {
        Failure::new(EXIT_INVALID, invalid.to_string())
    }
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => serve(&cli.storage, args).await,
        #[cfg(feature = "bench")]
        Command::Bench(args) => crate::bench::run(&cli.storage, args).await,
        Command::App(command) => crate::data::app(&cli.storage, command).await,
        Command::Table(command) => crate::data::table(&cli.storage, command).await,
        #[cfg(feature = "bench")]
        Command::BenchLedger(args) => crate::bench_ledger::run(&cli.storage, args).await,
        Command::Ledger(command) => crate::ledger::run(&cli.storage, command).await,
        Command::Migrate => {
            let store = open(&cli.storage).await?;
            store.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Org(OrgCommand::Create(args)) => {
            let mut check = Checker::default();
            let name = check.field("name", Name::parse(&args.name));
            let email = check.field("--admin-email", Email::parse(&args.admin_email));
            let password = check.field("--admin-password", Password::parse(&args.admin_password));
            let admin_name = check.field("--admin-name", Name::parse(&args.admin_name));
            let time_zone = check.field("--time-zone", TimeZone::parse(&args.time_zone));
            let locale = check.field("--locale", Locale::parse(&args.locale));
            let (
                Some(name),
                Some(email),
                Some(password),
                Some(admin_name),
                Some(time_zone),
                Some(locale),
            ) = (name, email, password, admin_name, time_zone, locale)
            else {
                return Err(check.into_invalid().into());
            };
            let password_hash = hash_password(password).await?;
            let store = open(&cli.storage).await?;
            let (org, _) = store
                .create_organization(
                    &WriteContext::system(),
                    NewOrganization {
                        name,
                        time_zone,
                        locale,
                        owner: owner(admin_name, email, password_hash),
                    },
                )
                .await?;
            store.close().await;
            println!("{}", org.id);
            Ok(())
        }
        Command::Org(OrgCommand::List) => {
            let store = open(&cli.storage).await?;
            for org in store.list_organizations().await? {
                println!("{}\t{}", org.id, org.name);
            }
            store.close().await;
            Ok(())
        }
        Command::Token(TokenCommand::Create(args)) => {
            let mut check = Checker::default();
            let name = check.field("--name", Name::parse(&args.name));
            let scopes = parse_scopes(&mut check, &args.scopes);
            let rate_limit = check.optional("--rate-limit", args.rate_limit, |raw| {
                RateLimit::parse(&raw)
            });
            let (Some(name), Some(scopes), Some(rate_limit)) = (name, scopes, rate_limit) else {
                return Err(check.into_invalid().into());
            };
            let email =
                match &args.member {
                    Some(raw) => Some(Email::parse(raw).map_err(|reason| {
                        Failure::new(EXIT_INVALID, format!("--member: {reason}"))
                    })?),
                    None => None,
                };
            let store = open(&cli.storage).await?;
            let org = store.resolve_organization(&args.org).await?;
            let member_id = match email {
                Some(email) => Some(member_for_token(&store, org.id, &email, scopes).await?),
                None => None,
            };
            let secret = tenon_auth::mint(SecretKind::PersonalToken);
            let expires_at = args
                .expires_in_days
                .map(|days| store.now() + TimeDelta::days(i64::from(days)));
            store
                .tenant(org.id)
                .create_token(
                    &WriteContext::system(),
                    NewToken {
                        name,
                        member_id,
                        scopes,
                        rate_limit,
                        expires_at,
                        digest: secret.digest.0,
                    },
                )
                .await?;
            store.close().await;
            println!("{}", secret.plaintext);
            Ok(())
        }
        Command::Client(ClientCommand::Create(args)) => {
            let mut check = Checker::default();
            let name = check.field("--name", Name::parse(&args.name));
            let scopes = parse_scopes(&mut check, &args.scopes);
            let rate_limit = check.optional("--rate-limit", args.rate_limit, |raw| {
                RateLimit::parse(&raw)
            });
            let redirect_uris =
                tenon_model::check_redirect_uris(&mut check, "--redirect-uri", args.redirect_uris);
            let (Some(name), Some(scopes), Some(rate_limit), Some(redirect_uris)) =
                (name, scopes, rate_limit, redirect_uris)
            else {
                return Err(check.into_invalid().into());
            };
            let store = open(&cli.storage).await?;
            let org = store.resolve_organization(&args.org).await?;
            let secret = tenon_auth::mint(SecretKind::ClientSecret);
            let (client, installation) = store
                .tenant(org.id)
                .register_client(
                    &WriteContext::system(),
                    ClientRegistration {
                        name,
                        client_id: tenon_auth::mint_client_id(),
                        secret_digest: secret.digest.0,
                        scopes,
                        rate_limit,
                        redirect_uris,
                    },
                )
                .await?;
            let format = args
                .event_format
                .as_deref()
                .and_then(tenon_model::EventFormat::parse);
            if let Some(format) = format.filter(|format| *format != installation.event_format) {
                store
                    .tenant(org.id)
                    .update_installation(
                        &WriteContext::system(),
                        installation.id,
                        None,
                        None,
                        Some(format),
                    )
                    .await?;
            }
            store.close().await;
            println!("{} {}", client.client_id, secret.plaintext);
            Ok(())
        }
    }
}

fn parse_scopes(check: &mut Checker, names: &[String]) -> Option<ScopeSet> {
    match ScopeSet::parse(names.iter().map(String::as_str)) {
        Ok(scopes) if !scopes.is_empty() => Some(scopes),
        Ok(_) => {
            check.add(
                tenon_model::FieldError::new(
                    "--scopes",
                    tenon_model::DetailCode::TooFew,
                    "give at least one scope",
                )
                .with("min", 1),
            );
            None
        }
        Err(error) => {
            check.add(tenon_model::Reason::format("scope", error.to_string()).at("--scopes"));
            None
        }
    }
}

pub(crate) fn owner(name: Name, email: Email, password_hash: String) -> NewMember {
    NewMember {
        name,
        email: Some(email),
        mobile: None,
        job_title: OptionalText::NONE,
        employee_no: OptionalText::NONE,
        role: Role::Owner,
        department_ids: Vec::new(),
        password_hash: Some(password_hash),
    }
}

pub(crate) async fn hash_password(password: Password) -> Result<String, Failure> {
    tokio::task::spawn_blocking(move || tenon_auth::hash_password(password.expose()))
        .await
        .map_err(|error| Failure::new(EXIT_FAILURE, format!("password hashing failed: {error}")))?
        .map_err(|error| Failure::new(EXIT_FAILURE, error.to_string()))
}

/// Opens the configured database and brings its schema up to date.
pub(crate) async fn open(storage: &StorageArgs) -> Result<Store, Failure> {
    let config = DatabaseConfig::from_options(storage.database.as_deref(), &storage.data_dir)?;
    Ok(open_config(&config)
        .await?
        .with_files_dir(storage.data_dir.join("files")))
}

/// The active member of `org` with this e-mail address, whose role holds `scopes`.
async fn member_for_token(
    store: &Store,
    org: tenon_model::OrgId,
    email: &Email,
    scopes: ScopeSet,
) -> Result<tenon_model::MemberId, Failure> {
    let member = store
        .login_candidates(email)
        .await?
        .into_iter()
        .find(|candidate| candidate.org_id == org)
        .ok_or_else(|| {
            Failure::new(
                EXIT_NOT_FOUND,
                format!(
                    "--member: no member {} in this organization",
                    email.as_str()
                ),
            )
        })?;
    if member.status != tenon_model::MemberStatus::Active {
        return Err(Failure::new(
            EXIT_INVALID,
            format!("--member: {} has left the organization", email.as_str()),
        ));
    }
    if !member.role.scopes().covers(scopes) {
        return Err(Failure::new(
            EXIT_INVALID,
            format!(
                "--scopes: a {} cannot hold them; a personal token's scopes must be ones the member's role holds",
                member.role
            ),
        ));
    }
    Ok(member.member_id)
}

async fn open_config(config: &DatabaseConfig) -> Result<Store, Failure> {
    open_with_clock(config, Arc::new(SystemClock)).await
}

async fn open_with_clock(
    config: &DatabaseConfig,
    clock: Arc<dyn tenon_store::Clock>,
) -> Result<Store, Failure> {
    let store = Store::connect(config, clock).await.map_err(|error| {
        Failure::new(
            EXIT_UNAVAILABLE,
            format!("{} ({})", error, config.describe()),
        )
    })?;
    store.migrate().await?;
    Ok(store)
}

/// The key connections' secrets are encrypted with: read from `file` (32 raw bytes), or made there (mode
/// 0600) when the file does not exist. PostgreSQL nodes sharing a database must share the file.
fn secret_key(file: std::path::PathBuf) -> Result<tenon_store::connections::SecretKey, Failure> {
    let failed = |what: String| {
        Failure::new(
            EXIT_FAILURE,
            format!("--secret-key-file {}: {what}", file.display()),
        )
    };
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
            }
            let bytes = tenon_store::connections::SecretKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut out = options.open(&file).map_err(|e| failed(e.to_string()))?;
            std::io::Write::write_all(&mut out, &bytes).map_err(|e| failed(e.to_string()))?;
            out.sync_all().map_err(|e| failed(e.to_string()))?;
            tracing::info!(file = %file.display(), "made a new secret key for connections' secrets");
            bytes.to_vec()
        }
        Err(error) => return Err(failed(error.to_string())),
    };
    tenon_store::connections::SecretKey::from_bytes(&bytes).map_err(failed)
}

async fn serve(storage: &StorageArgs, args: ServeArgs) -> Result<(), Failure> {
    init_logging(args.log_json);
    let started = std::time::Instant::now();
    let default_rate_limit = RateLimit::parse(&args.rate_limit)
        .map_err(|reason| Failure::new(EXIT_INVALID, format!("--rate-limit: {reason}")))?;
    let database = DatabaseConfig::from_options(storage.database.as_deref(), &storage.data_dir)?;
    let test_clock = if args.test_clock {
        let file = storage.data_dir.join("test-clock");
        let clock = tenon_store::TestClock::open(&file).map_err(|error| {
            Failure::new(
                EXIT_FAILURE,
                format!("--test-clock: cannot keep {}: {error}", file.display()),
            )
        })?;
        tracing::warn!(now = %tenon_store::Clock::now(&clock), "test clock: time stands still until POST /api/v1/_test/clock moves it");
        Some(Arc::new(clock))
    } else {
        None
    };
    let clock: Arc<dyn tenon_store::Clock> = match &test_clock {
        Some(clock) => clock.clone(),
        None => Arc::new(SystemClock),
    };
    let secret_key = secret_key(
        args.secret_key_file
            .clone()
            .unwrap_or_else(|| storage.data_dir.join("secret.key")),
    )?;
    let store = open_with_clock(&database, clock)
        .await?
        .with_files_dir(storage.data_dir.join("files"))
        .with_secret_key(secret_key);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| {
            Failure::new(
                EXIT_FAILURE,
                format!("cannot listen on {}: {error}", args.listen),
            )
        })?;
    let address = listener
        .local_addr()
        .map_err(|error| Failure::new(EXIT_FAILURE, error.to_string()))?;
    let outbound = tenon_events::OutboundPolicy::parse(&args.outbound_allow)
        .map_err(|reason| Failure::new(EXIT_INVALID, format!("--outbound-allow: {reason}")))?;
    let seconds = |value: f64, flag: &str| {
        std::time::Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Failure::new(
                    EXIT_INVALID,
                    format!("{flag}: a positive number of seconds"),
                )
            })
    };
    let delivery = tenon_events::DeliveryConfig {
        workers: args.delivery_workers.unwrap_or(match store.backend() {
            tenon_store::Backend::Sqlite => 1,
            tenon_store::Backend::Postgres => 4,
        }),
        timeout: seconds(args.webhook_timeout, "--webhook-timeout")?,
        poll_interval: seconds(args.delivery_poll, "--delivery-poll")?,
        event_retention_days: std::num::NonZeroU32::new(args.event_retention_days),
        ..tenon_events::DeliveryConfig::default()
    };
    let sender = tenon_events::Sender::new(outbound, delivery.timeout).map_err(|error| {
        Failure::new(
            EXIT_FAILURE,
            format!("cannot build the webhook client: {error}"),
        )
    })?;
    let config = ServerConfig {
        default_rate_limit,
        secure_cookies: !args.insecure_cookies,
        delivery,
        flows: tenon_connect::FlowConfig {
            workers: args.flow_workers.unwrap_or(match store.backend() {
                tenon_store::Backend::Sqlite => 1,
                tenon_store::Backend::Postgres => 4,
            }),
            poll_interval: seconds(args.delivery_poll, "--delivery-poll")?,
            // Chained steps pay on SQLite (one commit per batch under its single writer: 142 → 234 runs/s
            // with the statement savings); on PostgreSQL, where every writer of an organization queues on
            // its event counter, a longer transaction holds it longer and chaining measured no better
            // (110 against 115 runs/s, docs/benchmarks.md "Connection flows"), so one step per
            // transaction stays.
            chain: store.backend() == tenon_store::Backend::Sqlite,
            ..tenon_connect::FlowConfig::default()
        },
        max_body_bytes: args.max_body_size,
        test_clock,
        ..ServerConfig::default()
    };
    let state = AppState::new(store.clone(), config, sender);
    let startup_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(%address, database = %database.describe(), startup_ms, "Tenon is listening");
    println!(
        "Tenon is listening on http://{address}  (open it in a browser; API reference: http://{address}/docs)"
    );
    if args.demo {
        crate::demo::ensure(&store, &storage.data_dir, address).await?;
    }
    let ui = tenon_web::router(state.clone());
    tenon_server::serve_with(listener, state, ui, shutdown_signal())
        .await
        .map_err(|error| Failure::new(EXIT_FAILURE, format!("server failed: {error}")))?;
    store.close().await;
    tracing::info!("Tenon stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TENON_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
