//! [`PrivatePostgres`]: a PostgreSQL server of the test's own, for fault tests that stop,
//! freeze or crash it — never the shared test server (`KMSD_TEST_POSTGRES_URL`), which every
//! parallel test uses.
//!
//! It runs Debian's server binaries (`/usr/lib/postgresql/<N>/bin`, the highest N; or the
//! directory `KMSD_TEST_PG_BINDIR` names) over a data dir in a temporary directory, listening
//! on 127.0.0.1 on a free port (and on a Unix socket in that directory only). PostgreSQL refuses
//! to run as root, so as root every server command runs as the `postgres` user (`runuser`), and
//! the temporary directory belongs to that user.
//!
//! `fsync = off` for speed: an immediate stop ([`PrivatePostgres::stop_immediate`]) is a crash of
//! the server processes, not of the machine, so every commit that returned is still in the
//! operating system's page cache and survives it (`synchronous_commit` stays on).
//!
//! Missing binaries are a panic that says how to install them, not a skip: CI installs them
//! (`scripts/postgres.sh`) before the tests run.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How to set the server up.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Lines appended to `postgresql.conf` (after the testkit's own), e.g. `ssl = on`.
    /// Relative file names there are relative to the data dir, where [`PgOptions::files`] go.
    pub conf: Vec<String>,
    /// The whole `pg_hba.conf`. Default: `trust` for every TCP login from 127.0.0.1, or
    /// `scram-sha-256` when a password is set.
    pub hba: Option<String>,
    /// The superuser's (`postgres`) password; without one, logins need none.
    pub password: Option<String>,
    /// Files written into the data dir before the server starts, owned by the server's user
    /// with mode 0600 (as `ssl_key_file` must be): `(name, contents)`.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A PostgreSQL server of the test's own; stopped and deleted on drop.
pub struct PrivatePostgres {
    bindir: PathBuf,
    /// The temporary directory: data dir, socket, log, files.
    dir: tempfile::TempDir,
    port: u16,
    password: Option<String>,
    /// Run server commands as this user (`postgres` when the test runs as root).
    run_as: Option<String>,
    running: bool,
}

/// The directory of the newest installed server's binaries.
fn find_bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KMSD_TEST_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok().into_iter().flatten().filter_map(|e| {
        let e = e.ok()?;
        let n: u32 = e.file_name().to_str()?.parse().ok()?;
        let bin = e.path().join("bin");
        bin.join("initdb").exists().then_some((n, bin))
    });
    match versions.max_by_key(|(n, _)| *n) {
        Some((_, bin)) => bin,
        None => panic!(
            "PrivatePostgres: no PostgreSQL server binaries in /usr/lib/postgresql/<N>/bin (initdb, pg_ctl, postgres); \
             install them with `bash scripts/postgres.sh` (Debian's postgresql package) or name their directory in \
             KMSD_TEST_PG_BINDIR"
        ),
    }
}

/// The effective user id of this process (the owner of `/proc/self`).
fn euid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, user]).output().expect("run id");
    assert!(
        out.status.success(),
        "PrivatePostgres: running as root needs a `{user}` user (Debian's postgresql package creates it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

fn check(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("PrivatePostgres: cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "PrivatePostgres: {what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PrivatePostgres {
    /// A fresh server with `trust` logins, started.
    pub fn new() -> PrivatePostgres {
        Self::with(PgOptions::default())
    }

    /// A fresh server set up by `opts`, started.
    pub fn with(opts: PgOptions) -> PrivatePostgres {
        let bindir = find_bindir();
        for tool in ["initdb", "pg_ctl", "postgres"] {
            assert!(bindir.join(tool).exists(), "PrivatePostgres: {} is missing", bindir.join(tool).display());
        }
        let run_as = (euid() == 0).then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new().prefix("kmsd-pg-").tempdir().expect("a temporary directory");
        if let Some(user) = &run_as {
            let (uid, gid) = (id_of(user, "-u"), id_of(user, "-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the server's directory");
        }
        let mut pg =
            PrivatePostgres { bindir, dir, port: free_port(), password: opts.password.clone(), run_as, running: false };
        pg.init(&opts);
        // The free port may be taken by another test before the server binds it: move on.
        for _ in 0..3 {
            match pg.try_start() {
                Ok(()) => return pg,
                Err(_) if pg.log().contains("could not bind") => {
                    pg.port = free_port();
                    let conf = pg.data_dir().join("postgresql.conf");
                    let mut text = std::fs::read_to_string(&conf).unwrap();
                    text.push_str(&format!("port = {}\n", pg.port));
                    std::fs::write(&conf, text).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        pg.start();
        pg
    }

    /// Runs a server binary (as the server's user when the test is root).
    fn command(&self, tool: &str) -> Command {
        let bin = self.bindir.join(tool);
        let mut c = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        c.current_dir(self.dir.path());
        c
    }

    /// Writes a file the server's user owns, mode 0600.
    fn write_owned(&self, path: &Path, contents: &[u8]) {
        std::fs::write(path, contents).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(path, Some(id_of(user, "-u")), Some(id_of(user, "-g"))).unwrap();
        }
    }

    fn init(&mut self, opts: &PgOptions) {
        let data = self.data_dir();
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(&data).args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        let pwfile = self.dir.path().join("pwfile");
        if let Some(password) = &opts.password {
            self.write_owned(&pwfile, password.as_bytes());
            initdb.arg("--pwfile").arg(&pwfile).args(["--auth-host=scram-sha-256", "--auth-local=trust"]);
        } else {
            initdb.args(["--auth=trust"]);
        }
        check("initdb", initdb.output());
        let _ = std::fs::remove_file(&pwfile);
        let socket_dir = self.dir.path().display().to_string();
        let mut conf = vec![
            "listen_addresses = '127.0.0.1'".to_owned(),
            format!("port = {}", self.port),
            format!("unix_socket_directories = '{socket_dir}'"),
            "fsync = off".into(),
            "full_page_writes = off".into(),
            "max_connections = 100".into(),
            "shared_buffers = 16MB".into(),
            "log_min_messages = warning".into(),
        ];
        conf.extend(opts.conf.iter().cloned());
        let path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("\n# kms-testkit PrivatePostgres\n");
        for line in conf {
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let method = if opts.password.is_some() { "scram-sha-256" } else { "trust" };
        let hba =
            opts.hba.clone().unwrap_or_else(|| format!("local all all trust\nhost all all 127.0.0.1/32 {method}\n"));
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        for (name, contents) in &opts.files {
            self.write_owned(&data.join(name), contents);
        }
    }

    /// Starts the server (again) on the same data dir and port; waits until it accepts
    /// connections (after crash recovery, following [`PrivatePostgres::stop_immediate`]).
    pub fn start(&mut self) {
        if let Err(e) = self.try_start() {
            panic!("{e}");
        }
    }

    fn try_start(&mut self) -> Result<(), String> {
        if self.running {
            return Ok(());
        }
        let mut c = self.command("pg_ctl");
        c.arg("-D").arg(self.data_dir()).arg("-l").arg(self.log_path()).args(["-w", "-t", "60", "start"]);
        let out = c.output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            return Err(format!("PrivatePostgres: pg_ctl start failed: {out:?}\nserver log:\n{}", self.log()));
        }
        self.running = true;
        Ok(())
    }

    /// Crashes the server: `pg_ctl stop -m immediate` (every server process quits at once, no
    /// checkpoint; the next start runs crash recovery). Connections see the server go away.
    pub fn stop_immediate(&mut self) {
        if !self.running {
            return;
        }
        self.sigcont();
        let mut c = self.command("pg_ctl");
        c.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "-t", "60", "stop"]);
        check("pg_ctl stop -m immediate", c.output());
        self.running = false;
    }

    /// `postgres://postgres[:password]@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of database `db` on this server (with the password, if one is set).
    pub fn url_for(&self, db: &str) -> String {
        match &self.password {
            Some(p) => format!("postgres://postgres:{}@127.0.0.1:{}/{db}", encode_userinfo(p), self.port),
            None => format!("postgres://postgres@127.0.0.1:{}/{db}", self.port),
        }
    }

    /// The URL without the password.
    pub fn url_without_password(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the data dir, socket, log and any files the test adds.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The postmaster's process id (from `postmaster.pid`). Panics when it is not running.
    pub fn pid(&self) -> u32 {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).expect("the server is running");
        text.lines().next().and_then(|l| l.trim().parse().ok()).expect("a pid in postmaster.pid")
    }

    /// The postmaster and every process it started (backends, checkpointer, WAL writer, …).
    pub fn processes(&self) -> Vec<u32> {
        let postmaster = self.pid();
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        pids
    }

    /// Freezes the server: SIGSTOP to the postmaster (first, so it starts nothing new), then to
    /// every process it started. TCP connections still open (the kernel completes handshakes
    /// into the listen backlog) but nothing answers — a hung server, not a dead one.
    pub fn sigstop(&self) {
        let postmaster = self.pid();
        signal("STOP", postmaster);
        wait_stopped(postmaster);
        let children = children_of(postmaster);
        for &child in &children {
            signal("STOP", child);
        }
        // Signals are delivered when the process is next scheduled: wait until they took.
        for child in children {
            wait_stopped(child);
        }
    }

    /// Undoes [`PrivatePostgres::sigstop`]: SIGCONT to the server's processes.
    pub fn sigcont(&self) {
        let Ok(postmaster) = std::fs::read_to_string(self.data_dir().join("postmaster.pid")) else { return };
        let Some(postmaster) = postmaster.lines().next().and_then(|l| l.trim().parse().ok()) else { return };
        for child in children_of(postmaster) {
            signal("CONT", child);
        }
        signal("CONT", postmaster);
    }

    /// Runs SQL with `psql` as the superuser over TCP; returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let mut c = Command::new(self.bindir.join("psql"));
        c.arg(self.url_for("postgres")).args(["-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        let out = check(&format!("psql -c {sql:?}"), c.output());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Default for PrivatePostgres {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            self.sigcont();
            let mut c = self.command("pg_ctl");
            c.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "-t", "30", "stop"]);
            let _ = c.output();
        }
    }
}

fn encode_userinfo(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn signal(name: &str, pid: u32) {
    let _ =
        Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).stderr(std::process::Stdio::null()).status();
}

/// Processes whose parent is `parent` (from `/proc/<pid>/stat`).
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Some((_, ppid)) = stat_of(pid)
            && ppid == parent
        {
            out.push(pid);
        }
    }
    out
}

/// `(state, parent pid)` of a process.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields follow the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Waits (briefly) until `pid` shows as stopped (or exited: a zombie or gone).
fn wait_stopped(pid: u32) {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if matches!(stat_of(pid), Some(('T' | 'Z', _)) | None) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
