//! PostgreSQL engine tests: the shared conformance suite on a fresh database.

use super::*;
use tokio_postgres::NoTls;

/// A fresh, empty database on the server `KMSD_TEST_POSTGRES_URL` names (scripts/test.sh
/// starts one); dropped when the guard goes. Without the variable the PostgreSQL tests are
/// skipped locally, and fail under CI, where the engine must be tested.
pub(crate) async fn fresh_database() -> Option<(String, impl Drop)> {
    let Ok(admin) = std::env::var("KMSD_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "KMSD_TEST_POSTGRES_URL must be set under CI");
        eprintln!("KMSD_TEST_POSTGRES_URL is not set: skipping the PostgreSQL engine tests");
        return None;
    };
    let name = format!("kmsd_test_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.expect("connect to the test server");
    tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    // The admin URL names a database (`…/postgres`); the test's URL names the new one.
    let (base, _) = admin.split_once('?').unwrap_or((&admin, "")).0.rsplit_once('/').expect("a URL ending in /dbname");
    let url = format!("{base}/{name}");
    struct DropDatabase(String, String);
    impl Drop for DropDatabase {
        fn drop(&mut self) {
            let (admin, name) = (self.0.clone(), self.1.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok((c, conn)) = tokio_postgres::connect(&admin, NoTls).await {
                        tokio::spawn(conn);
                        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    }
                })
            })
            .join();
        }
    }
    Some((url, DropDatabase(admin, name)))
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some((url, _guard)) = fresh_database().await else { return };
    // Through the time limit kmsd puts in front of it: every call must pass it unchanged.
    let store = crate::timed::Timed::new(PostgresStore::open(&url).await.unwrap(), DEFAULT_TIMEOUT);
    crate::conformance::run(&store).await;
    // Opening again (a second node, or a restart) finds the schema current.
    PostgresStore::open(&url).await.unwrap();
}
