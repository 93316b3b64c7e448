//! The PostgreSQL half of the tests: the server the tests may use, and a schema of their
//! own in it.

/// The PostgreSQL of the tests (`XIKANG_TEST_DATABASE_URL`, or the local `test` database),
/// or `None` with a line on stderr; with `XIKANG_REQUIRE_POSTGRES=1` an unreachable one
/// fails the test.
pub fn postgres_url() -> Option<String> {
    let candidates: Vec<String> = match std::env::var("XIKANG_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => vec![url],
        _ => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_owned(),
            "postgres://root@127.0.0.1:5432/test".to_owned(),
        ],
    };
    let mut reasons = Vec::new();
    for url in candidates {
        match postgres::Client::connect(&url, postgres::NoTls) {
            Ok(_) => return Some(url),
            Err(e) => reasons.push(format!("{url}: {e}")),
        }
    }
    if std::env::var("XIKANG_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("PostgreSQL is required (XIKANG_REQUIRE_POSTGRES=1) but unreachable: {reasons:?}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "PostgreSQL half skipped: {reasons:?}");
    None
}

/// A schema of its own for the PostgreSQL half, dropped when the test ends (even by panic).
pub struct FreshSchema {
    pub url: String,
    pub schema: String,
}

impl FreshSchema {
    /// A new schema named after `prefix`, this process and the time, in the database at
    /// `url` (created by the store when it is opened).
    pub fn new(url: String, prefix: &str) -> FreshSchema {
        FreshSchema {
            schema: format!(
                "xk_{prefix}_{}_{}",
                std::process::id(),
                xikang_server::now().0
            ),
            url,
        }
    }

    /// The store target of the schema.
    pub fn target(&self) -> xikang_store::Target {
        xikang_store::Target::Postgres(self.url_with_schema())
    }

    /// The database URL with the schema parameter.
    pub fn url_with_schema(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.url, self.schema)
    }
}

impl Drop for FreshSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("drop schema if exists {} cascade", self.schema));
        }
    }
}
