//! The [`PrivatePostgres`] helper itself: starts, answers, freezes, crashes and recovers with
//! committed data intact.

use std::net::TcpStream;

use kms_testkit::{PgOptions, PrivatePostgres};

#[test]
fn starts_freezes_crashes_and_recovers() {
    let mut pg = PrivatePostgres::new();
    assert_eq!(pg.psql("SELECT 1").trim(), "1");
    assert!(pg.url().starts_with(&format!("postgres://postgres@127.0.0.1:{}/", pg.port())));
    let postmaster = pg.pid();
    assert!(pg.processes().len() > 1, "the postmaster has children (checkpointer, WAL writer, …)");

    // Committed data survives an immediate stop (fsync is off; the OS keeps the WAL).
    pg.psql("CREATE TABLE t (v INT); INSERT INTO t VALUES (42)");
    pg.stop_immediate();
    assert!(TcpStream::connect(("127.0.0.1", pg.port())).is_err(), "nothing listens after the crash");
    pg.start();
    assert_eq!(pg.psql("SELECT v FROM t").trim(), "42");
    assert_ne!(pg.pid(), postmaster, "a new postmaster");

    // Frozen: TCP still connects, nothing answers.
    pg.sigstop();
    for pid in pg.processes() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
        // A backend that exited just before stays a zombie: its parent is stopped.
        assert!(matches!(state, 'T' | 'Z'), "process {pid} is stopped: {stat}");
    }
    let mut psql = std::process::Command::new("timeout")
        .args(["2", "psql", &pg.url(), "-qAt", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!psql.status.success(), "a frozen server does not answer");
    pg.sigcont();
    psql = std::process::Command::new("psql").args([&pg.url(), "-qAt", "-c", "SELECT 2"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "2");
}

#[test]
fn password_logins() {
    let pg = PrivatePostgres::with(PgOptions { password: Some("p@ss word/1".into()), ..Default::default() });
    assert_eq!(pg.psql("SELECT current_user").trim(), "postgres");
    let out = std::process::Command::new("psql")
        .args([&pg.url_without_password(), "-w", "-qAt", "-c", "SELECT 1"])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success(), "no password, no login");
}
