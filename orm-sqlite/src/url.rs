//! Turning a `sqlite:` URL into sqlx connect options, with actionable errors.

use orm_core::Error;
use sqlx::sqlite::SqliteConnectOptions;
use std::path::Path;
use std::str::FromStr;

const EXAMPLES: &str = "use `sqlite::memory:` or `sqlite://path/to/file.db`";

/// A parsed database URL.
#[derive(Debug)]
pub(crate) struct Target {
    /// sqlx's options for the URL (pragmas are added by the caller).
    pub(crate) options: SqliteConnectOptions,
    /// Whether the database lives in memory (one connection, see the crate docs).
    pub(crate) in_memory: bool,
    /// Whether the URL has `mode=ro` (no file creation, no journal-mode change).
    pub(crate) read_only: bool,
    /// Whether a missing file is created: yes unless the URL chose `mode=rw` or `mode=ro`.
    pub(crate) create: bool,
}

/// Parses `url`; every rejection is an [`Error::InvalidUrl`] that says what to write instead.
pub(crate) fn parse(url: &str) -> Result<Target, Error> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = strip_scheme(url).map_err(invalid)?;
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    if database.is_empty() && !params.contains("mode=memory") {
        return Err(invalid(format!(
            "the URL names no database file; {EXAMPLES}"
        )));
    }
    let mode = params.split('&').find_map(|p| p.strip_prefix("mode="));
    let in_memory = database == ":memory:" || mode == Some("memory");
    let options =
        SqliteConnectOptions::from_str(url).map_err(|err| invalid(format!("{err}; {EXAMPLES}")))?;
    if !in_memory {
        check_parent_dir(options.get_filename()).map_err(invalid)?;
    }
    Ok(Target {
        options,
        in_memory,
        read_only: mode == Some("ro"),
        create: mode.is_none(),
    })
}

/// The part after `sqlite://` or `sqlite:`, or why the URL is not a SQLite URL.
fn strip_scheme(url: &str) -> Result<&str, String> {
    if url.trim().is_empty() {
        return Err(format!("the URL is empty; {EXAMPLES}"));
    }
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return Ok(rest);
    }
    match url.split_once(':') {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("sqlite") => Err(format!(
            "write the scheme `{scheme}:` in lower case, `sqlite:`; {EXAMPLES}"
        )),
        Some((scheme, _)) if is_scheme(scheme) => Err(format!(
            "the scheme `{scheme}` is not supported by the SQLite backend, which only opens \
             `sqlite:` URLs; {EXAMPLES}"
        )),
        _ => Err(format!("the URL does not start with `sqlite:`; {EXAMPLES}")),
    }
}

/// Whether `s` looks like a URL scheme (`postgres`, `mysql`, `file`...).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A file database is created if missing, but its directory must exist.
fn check_parent_dir(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(format!(
            "the directory `{}` does not exist; create it first (the database file itself is \
             created if missing)",
            dir.display()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> String {
        match parse(url) {
            Err(Error::InvalidUrl { reason, .. }) => reason,
            other => panic!("expected InvalidUrl for {url:?}, got {other:?}"),
        }
    }

    #[test]
    fn memory_urls_are_recognised() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
        ] {
            assert!(parse(url).map(|t| t.in_memory).unwrap_or(false), "{url}");
        }
        assert!(!parse("sqlite:relative.db")
            .map(|t| t.in_memory)
            .unwrap_or(true));
    }

    #[test]
    fn file_modes_are_respected() {
        let target = parse("sqlite:relative.db").expect("valid");
        assert_eq!(target.options.get_filename(), Path::new("relative.db"));
        assert!(target.create && !target.read_only);
        let target = parse("sqlite://a.db?mode=ro").expect("valid");
        assert!(!target.create && target.read_only);
        let target = parse("sqlite://a.db?mode=rw").expect("valid");
        assert!(!target.create && !target.read_only);
    }

    #[test]
    fn bad_urls_say_why() {
        assert!(reason("").contains("empty"));
        assert!(reason("postgres://localhost/db").contains("`postgres`"));
        assert!(reason("just some garbage").contains("does not start with `sqlite:`"));
        assert!(reason("sqlite://").contains("names no database"));
        assert!(reason("SQLite://x.db").contains("lower case"));
        assert!(reason("sqlite://db.sqlite?bogus=1").contains("bogus"));
        assert!(reason("sqlite:///no/such/dir/x.db").contains("does not exist"));
    }
}
