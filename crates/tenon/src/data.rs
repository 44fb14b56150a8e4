//! `tenon app …` and `tenon table …`: apps as code and table files from the command line. They call the
//! same functions as the HTTP API (`tenon-exchange`, `tenon-store`), against the database directly.

use std::collections::{HashMap, HashSet};

use tenon_exchange::ExchangeError;
use tenon_exchange::definition::{self, FileFormat};
use tenon_exchange::import::{ImportOptions, import_table};
use tenon_exchange::tabular::{self, TableFormat};
use tenon_model::apps::ParseContext;
use tenon_model::apps::definition::plan;
use tenon_model::apps::permissions::{CheckContext, PermissionsDoc};
use tenon_store::{Store, WriteContext};

use crate::cli::{AppCommand, StorageArgs, TableCommand};
use crate::commands::{EXIT_CONFLICT, EXIT_FAILURE, EXIT_INVALID, Failure, open};

fn exchange_failure(error: ExchangeError) -> Failure {
    match error {
        ExchangeError::Store(error) => error.into(),
        ExchangeError::Invalid(invalid) => invalid.into(),
        other => Failure::new(EXIT_INVALID, other.to_string()),
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|error| {
        Failure::new(
            EXIT_FAILURE,
            format!("cannot read {}: {error}", path.display()),
        )
    })
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|error| {
        Failure::new(
            EXIT_FAILURE,
            format!("cannot write {}: {error}", path.display()),
        )
    })
}

async fn parse_context(store: &Store, org: tenon_model::OrgId) -> Result<ParseContext, Failure> {
    Ok(ParseContext {
        org_time_zone: store.tenant(org).organization().await?.time_zone,
    })
}

pub async fn app(storage: &StorageArgs, command: AppCommand) -> Result<(), Failure> {
    let store = open(storage).await?;
    let result = app_command(&store, command).await;
    store.close().await;
    result
}

async fn app_command(store: &Store, command: AppCommand) -> Result<(), Failure> {
    match command {
        AppCommand::Export(args) => {
            let org = store.resolve_organization(&args.org).await?;
            let current = store
                .tenant(org.id)
                .current_app(&args.app)
                .await?
                .ok_or_else(|| {
                    Failure::new(
                        crate::commands::EXIT_NOT_FOUND,
                        format!("no app \"{}\"", args.app),
                    )
                })?;
            let text = definition::write(
                &definition::export(&current),
                FileFormat::guess(&args.format),
            )
            .map_err(exchange_failure)?;
            match args.out {
                Some(path) => write_file(&path, text.as_bytes()),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        AppCommand::Diff(args) => {
            let org = store.resolve_organization(&args.org).await?;
            let Planned { wanted, steps, .. } = plan_file(store, org.id, &args.file).await?;
            if steps.is_empty() {
                eprintln!("app {} already matches {}", wanted.key, args.file.display());
            }
            for step in steps {
                println!("{step}");
            }
            Ok(())
        }
        AppCommand::Import(args) => {
            let org = store.resolve_organization(&args.org).await?;
            let Planned {
                wanted,
                steps,
                approvals,
                flows,
                permissions,
            } = plan_file(store, org.id, &args.file).await?;
            let flows = if args.no_flows {
                tenon_store::flows::FileFlows::default()
            } else {
                flows
            };
            if steps.iter().any(|step| step.deletes()) && !args.allow_deletions {
                for step in steps.iter().filter(|step| step.deletes()) {
                    eprintln!("{step}");
                }
                return Err(Failure::new(
                    EXIT_CONFLICT,
                    "the import deletes tables or fields with their data; repeat it with --allow-deletions",
                ));
            }
            for step in &steps {
                eprintln!("{step}");
            }
            let parse = parse_context(store, org.id).await?;
            let app = store
                .tenant(org.id)
                .apply_app_file(
                    &WriteContext::system(),
                    &wanted,
                    &steps,
                    &parse,
                    tenon_auth::mint_slug,
                    &approvals,
                    &flows,
                )
                .await?;
            if let Some(doc) = &permissions {
                set_permissions(store, org.id, &app, doc).await?;
            }
            println!("{}", app.id);
            Ok(())
        }
    }
}

/// The file's `permissions:` section, its shape checked (paths under `permissions.`).
fn file_permissions(raw: Option<&serde_json::Value>) -> Result<Option<PermissionsDoc>, Failure> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let doc = PermissionsDoc::parse(raw).map_err(|invalid| {
        tenon_model::Invalid(
            invalid
                .0
                .into_iter()
                .map(|error| {
                    let at = format!("permissions.{}", error.field);
                    error.at(at)
                })
                .collect(),
        )
    })?;
    Ok(Some(doc))
}

/// As `POST /api/v1/apps/import` does after the tables: creates the custom roles the document names that
/// the organization lacks (without members), checks the document against the app and sets it.
async fn set_permissions(
    store: &Store,
    org: tenon_model::OrgId,
    app: &tenon_model::apps::App,
    doc: &PermissionsDoc,
) -> Result<(), Failure> {
    let tenant = store.tenant(org);
    let ctx = WriteContext::system();
    let mut roles: Vec<(String, String)> = tenant
        .list_roles()
        .await?
        .into_iter()
        .map(|role| (role.key, role.name))
        .collect();
    for role in &doc.roles {
        for custom in &role.who.roles {
            let Ok(key) = tenon_model::apps::ApiKey::parse(custom) else {
                continue;
            };
            if roles.iter().any(|(own, _)| own == custom) {
                continue;
            }
            let name = Some(role.name.as_str())
                .filter(|_| role.who.roles.len() == 1)
                .and_then(|name| tenon_model::Name::parse(name).ok())
                .or_else(|| tenon_model::Name::parse(custom).ok());
            let Some(name) = name else {
                continue;
            };
            tenant.create_role(&ctx, &key, &name, &[]).await?;
            eprintln!("created the custom role {key} ({name}), without members");
            roles.push((custom.clone(), name.as_str().to_owned()));
        }
    }
    let mut tables = Vec::new();
    for table in tenant.list_tables(app.id).await? {
        tables.push(tenant.table_schema_by_id(table.id).await?);
    }
    let departments: HashSet<_> = tenant.department_parents().await?.into_keys().collect();
    let mut members = HashSet::new();
    for raw in doc.roles.iter().flat_map(|role| &role.who.members) {
        if let Ok(id) = raw.parse::<tenon_model::MemberId>()
            && tenant.member(id).await.is_ok()
        {
            members.insert(id);
        }
    }
    doc.check(&CheckContext {
        tables: &tables,
        roles: &roles,
        departments: &departments,
        members: &members,
    })
    .map_err(|invalid| {
        tenon_model::Invalid(
            invalid
                .0
                .into_iter()
                .map(|error| {
                    let at = format!("permissions.{}", error.field);
                    error.at(at)
                })
                .collect(),
        )
    })?;
    tenant
        .set_app_permissions(&ctx, app, Some(&doc.to_json()))
        .await?;
    eprintln!("set the app's permissions");
    Ok(())
}

/// What an import of a file would do, checked against the organization.
struct Planned {
    wanted: tenon_model::apps::definition::AppDefinition,
    steps: Vec<tenon_model::apps::definition::Step>,
    approvals: tenon_store::approvals::FileApprovals,
    flows: tenon_store::flows::FileFlows,
    permissions: Option<PermissionsDoc>,
}

async fn plan_file(
    store: &Store,
    org: tenon_model::OrgId,
    path: &std::path::Path,
) -> Result<Planned, Failure> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            EXIT_INVALID,
            format!("{} is not UTF-8 text", path.display()),
        )
    })?;
    let file = definition::read(&text, FileFormat::guess(&path.to_string_lossy()))
        .map_err(exchange_failure)?;
    let approvals = definition::approvals(&file).map_err(exchange_failure)?;
    let flows = definition::flows(&file).map_err(exchange_failure)?;
    let permissions = file_permissions(file.permissions.as_ref())?;
    let wanted = definition::check(file).map_err(exchange_failure)?;
    let tenant = store.tenant(org);
    let current = tenant.current_app(wanted.key.as_str()).await?;
    let steps = plan(&wanted, current.as_ref());
    // As `POST /api/v1/apps/import`: a published grid's `as_role` names a role of the permissions the
    // app will have (the file's, else the stored ones).
    let roles = match (&permissions, &current) {
        (Some(doc), _) => doc.role_keys(),
        (None, Some(current)) => tenant
            .app_permissions(current.app.id)
            .await?
            .and_then(|document| PermissionsDoc::parse(&document).ok())
            .map(|doc| doc.role_keys())
            .unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    wanted.check_public_roles(&roles)?;
    Ok(Planned {
        wanted,
        steps,
        approvals,
        flows,
        permissions,
    })
}

pub async fn table(storage: &StorageArgs, command: TableCommand) -> Result<(), Failure> {
    let store = open(storage).await?;
    let result = table_command(&store, command).await;
    store.close().await;
    result
}

async fn table_command(store: &Store, command: TableCommand) -> Result<(), Failure> {
    match command {
        TableCommand::Import(args) => {
            let org = store.resolve_organization(&args.org).await?;
            let tenant = store.tenant(org.id);
            let schema = tenant.table_schema(&args.app, &args.table).await?;
            let format = TableFormat::from_path(&args.file.to_string_lossy()).ok_or_else(|| {
                Failure::new(
                    EXIT_INVALID,
                    "the file must end in .csv, .xlsx, .xls or .ods",
                )
            })?;
            let mut mapping = HashMap::new();
            for pair in &args.mapping {
                let (header, field) = pair.split_once('=').ok_or_else(|| {
                    Failure::new(EXIT_INVALID, format!("--map {pair}: use HEADER=FIELD"))
                })?;
                mapping.insert(header.trim().to_owned(), field.trim().to_owned());
            }
            let sheet = tabular::read(&read_file(&args.file)?, format).map_err(exchange_failure)?;
            let bar = indicatif::ProgressBar::new(sheet.rows.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bar:40} {pos}/{len} rows ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let parse = parse_context(store, org.id).await?;
            let options = ImportOptions {
                mapping,
                dry_run: args.dry_run,
                partial: args.partial,
                upsert_on: args.upsert_on.clone(),
            };
            let mut progress = |done: usize, _total: usize| bar.set_position(done as u64);
            let report = import_table(
                &tenant,
                &WriteContext::system(),
                &schema,
                sheet,
                &parse,
                &options,
                &mut progress,
            )
            .await
            .map_err(exchange_failure)?;
            bar.finish_and_clear();
            let verb = if report.dry_run {
                "would import"
            } else {
                "imported"
            };
            let refused: std::collections::BTreeSet<usize> =
                report.errors.iter().map(|error| error.line).collect();
            if report.errors.is_empty() || report.partial {
                // With --upsert-on: how many of the written records were updated.
                let updated = if args.upsert_on.is_empty() {
                    String::new()
                } else {
                    format!(" ({} updated)", report.updated)
                };
                println!(
                    "{} rows read, {verb} {}{updated}, {} not imported",
                    report.rows,
                    report.imported,
                    refused.len()
                );
            } else {
                println!(
                    "{} rows read, {} refused: nothing imported (all or nothing; --partial writes the valid rows)",
                    report.rows,
                    refused.len()
                );
            }
            if !report.ignored_columns.is_empty() {
                println!("ignored columns: {}", report.ignored_columns.join(", "));
            }
            for error in &report.errors {
                println!(
                    "line {}{}: {}",
                    error.line,
                    error
                        .field
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default(),
                    error.reason
                );
            }
            if report.errors.is_empty() {
                Ok(())
            } else {
                Err(Failure::new(
                    EXIT_INVALID,
                    format!("{} of {} rows were refused", refused.len(), report.rows),
                ))
            }
        }
        TableCommand::Export(args) => {
            let org = store.resolve_organization(&args.org).await?;
            let schema = store
                .tenant(org.id)
                .table_schema(&args.app, &args.table)
                .await?;
            let format = match &args.format {
                Some(format) => TableFormat::parse(format),
                None => {
                    TableFormat::from_path(&args.out.to_string_lossy()).or(Some(TableFormat::Csv))
                }
            }
            .ok_or_else(|| Failure::new(EXIT_INVALID, "--format must be csv or xlsx"))?;
            let sheet = tenon_exchange::export::table_sheet(store, org.id, &schema).await?;
            let bytes = match format {
                TableFormat::Csv => tabular::write_csv(&sheet),
                TableFormat::Xlsx => tabular::write_xlsx(&sheet, schema.table.name.as_str()),
            }
            .map_err(exchange_failure)?;
            write_file(&args.out, &bytes)?;
            eprintln!(
                "{} records written to {}",
                sheet.rows.len(),
                args.out.display()
            );
            Ok(())
        }
    }
}
