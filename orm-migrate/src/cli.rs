//! The command users add to their own crate, where the models are:
//!
//! ```no_run
//! # use orm_core::prelude::*;
//! # #[derive(Model, Debug)]
//! # #[model(table = "users")]
//! # pub struct User { #[column(primary_key)] pub id: Option<i64>, pub name: String }
//! fn main() -> std::process::ExitCode {
//!     orm_migrate::cli(&[User::META])
//! }
//! ```

use crate::diff::Renames;
use crate::error::{Error, Result};
use crate::generate::GenerateOptions;
use orm_core::meta::ModelMeta;
use orm_core::Database;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: <command> [options]

commands:
  generate   write the next migration file: what makes the database match the models
  apply      apply the folder's pending migrations
  status     list applied and pending migrations
  check      exit 1 if the database differs from the models (for CI)

options:
  --database-url URL     the database (default: $DATABASE_URL)
  --migrations DIR       the migrations folder (default: migrations)
  --name NAME            generate: the file's description
  --allow-destructive    generate: also write drops and narrowing type changes
  --rename T.OLD=NEW     generate, check: column OLD of table T is now NEW
  --rename OLD=NEW       generate, check: table OLD is now NEW";

/// How a command ended, besides failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It did what was asked (exit status 0).
    Done,
    /// `check` found differences between the models and the database (exit status 1).
    Differs,
}

/// Runs the command line of this process against `models` and returns its exit status:
/// 0 done, 1 `check` found differences, 2 an error (printed on stderr).
pub fn cli(models: &[&'static ModelMeta]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout();
    match runtime.block_on(run_cli(&args, models, &mut stdout)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Differs) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(2)
        }
    }
}

/// The parsed command line.
#[derive(Debug)]
struct Args {
    command: String,
    url: Option<String>,
    folder: PathBuf,
    options: GenerateOptions,
}

fn parse(args: &[String]) -> Result<Args> {
    let usage = |problem: String| Error::Usage(format!("{problem}\n\n{USAGE}"));
    let mut parsed = Args {
        command: String::new(),
        url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
        folder: PathBuf::from("migrations"),
        options: GenerateOptions::new(),
    };
    let mut renames = Renames::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| usage(format!("`{flag}` needs a value")))
        };
        match arg.as_str() {
            "--database-url" => parsed.url = Some(value(arg)?),
            "--migrations" => parsed.folder = PathBuf::from(value(arg)?),
            "--name" => parsed.options.name = Some(value(arg)?),
            "--allow-destructive" => parsed.options.allow_destructive = true,
            "--rename" => renames = renames.parse(&value(arg)?).map_err(usage)?,
            "-h" | "--help" => return Err(Error::Usage(USAGE.to_owned())),
            flag if flag.starts_with('-') => return Err(usage(format!("unknown option `{flag}`"))),
            command if parsed.command.is_empty() => parsed.command = command.to_owned(),
            extra => return Err(usage(format!("unexpected argument `{extra}`"))),
        }
    }
    parsed.options.renames = renames;
    if parsed.command.is_empty() {
        return Err(usage("no command given".to_owned()));
    }
    Ok(parsed)
}

/// Connects to `url` with the backend its scheme names.
async fn connect(url: &str) -> Result<Database> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(orm_postgres::connect(url).await?)
    } else if url.starts_with("sqlite:") {
        Ok(orm_sqlite::connect(url).await?)
    } else {
        Err(Error::Usage(format!(
            "`{url}` is not a database URL this command knows: use sqlite:... or postgres://..."
        )))
    }
}

/// Runs one command line (`args` without the program name) against `models`, writing its
/// report to `out`. [`cli`] is this with the process's arguments and stdout.
pub async fn run_cli(
    args: &[String],
    models: &[&'static ModelMeta],
    out: &mut (dyn Write + Send),
) -> Result<Outcome> {
    let args = parse(args)?;
    let url = args.url.clone().ok_or_else(|| {
        Error::Usage(format!(
            "no database: pass --database-url or set DATABASE_URL\n\n{USAGE}"
        ))
    })?;
    let db = connect(&url).await?;
    let outcome = run_command(&db, &args, models, out).await;
    db.close().await;
    outcome
}

async fn run_command(
    db: &Database,
    args: &Args,
    models: &[&'static ModelMeta],
    out: &mut (dyn Write + Send),
) -> Result<Outcome> {
    let print = |out: &mut (dyn Write + Send), line: String| {
        // A closed stdout is not worth failing a migration for.
        let _ = writeln!(out, "{line}");
    };
    match args.command.as_str() {
        "generate" => {
            let generated = crate::generate(db, models, &args.folder, &args.options).await?;
            for warning in &generated.warnings {
                print(out, format!("warning: {warning}"));
            }
            match &generated.path {
                Some(path) => {
                    print(out, format!("wrote {}", path.display()));
                    for change in &generated.written {
                        print(out, format!("  {change}"));
                    }
                }
                None if generated.skipped.is_empty() => {
                    print(out, "the database already matches the models".to_owned())
                }
                None => print(out, "nothing written".to_owned()),
            }
            for change in &generated.skipped {
                print(
                    out,
                    format!(
                        "skipped (destructive; pass --allow-destructive to write it): {change}"
                    ),
                );
            }
            Ok(Outcome::Done)
        }
        "apply" => {
            let applied = crate::apply(db, &args.folder).await?;
            if applied.is_empty() {
                print(out, "no pending migrations".to_owned());
            }
            for migration in applied {
                print(
                    out,
                    format!("applied {} {}", migration.version, migration.description),
                );
            }
            Ok(Outcome::Done)
        }
        "status" => {
            let status = crate::status(db, &args.folder).await?;
            for migration in &status.applied {
                print(
                    out,
                    format!("applied  {} {}", migration.version, migration.description),
                );
            }
            for migration in &status.pending {
                print(
                    out,
                    format!("pending  {} {}", migration.version, migration.description),
                );
            }
            if status.applied.is_empty() && status.pending.is_empty() {
                print(out, format!("no migrations in {}", args.folder.display()));
            }
            Ok(Outcome::Done)
        }
        "check" => {
            let diff = crate::diff(db, models, &args.options.renames).await?;
            if diff.is_empty() {
                print(out, "the database matches the models".to_owned());
                return Ok(Outcome::Done);
            }
            print(out, "the database differs from the models:".to_owned());
            for change in &diff.changes {
                print(out, format!("  {change}"));
            }
            Ok(Outcome::Differs)
        }
        other => Err(Error::Usage(format!(
            "unknown command `{other}`\n\n{USAGE}"
        ))),
    }
}
