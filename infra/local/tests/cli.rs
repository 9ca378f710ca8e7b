//! The README's first-run path with the real binary: start the stack, mint a token with the
//! `token` command, run `try`, and see every step pass; `try` fails (non-zero) when a step fails.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_handoff-local");

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `handoff-local` and waits until it prints that it is running.
fn serve(data_dir: &std::path::Path, port: u16) -> (Serve, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env_remove("HANDOFF_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("handoff-local starts");
    let stdout = child.stdout.take().unwrap();
    let guard = Serve(child);
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    let start = Instant::now();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || start.elapsed() > Duration::from_secs(30) {
            panic!("handoff-local stopped before it was ready: {lines:?}");
        }
        lines.push(line.trim_end().to_string());
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    (guard, lines)
}

fn token(data_dir: &std::path::Path, ws: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "--workspace", ws, "--role", role, "--sub", "alice", "--data-dir"])
        .arg(data_dir)
        .env_remove("HANDOFF_JWT_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn try_cmd(port: u16, token: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["try", "--url", &format!("http://127.0.0.1:{port}"), "--token", token])
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn first_run_token_and_try_pass() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_serve, banner) = serve(dir.path(), port);
    let banner = banner.join("\n");
    assert!(banner.contains(&format!("127.0.0.1:{port}")), "{banner}");
    assert!(banner.contains(&dir.path().display().to_string()), "{banner}");
    assert!(banner.contains("token --workspace"), "{banner}");

    let admin = token(dir.path(), "ws_demo", "admin");
    let (ok, out) = try_cmd(port, &admin);
    assert!(ok, "{out}");
    assert_eq!(out.matches("[PASS]").count(), 6, "{out}");
    assert!(out.contains("verify the confirmation message"), "{out}");

    // A workspace with Human Handoff off: try reports the failing step and exits non-zero.
    let other = token(dir.path(), "ws_other", "admin");
    let (ok, out) = try_cmd(port, &other);
    assert!(!ok, "{out}");
    assert!(out.contains("[FAIL] start a test conversation"), "{out}");

    // An agent token may not escalate: step 2 fails.
    let agent = token(dir.path(), "ws_demo", "agent");
    let (ok, out) = try_cmd(port, &agent);
    assert!(!ok, "{out}");
    assert!(out.contains("[FAIL] trigger an escalation"), "{out}");
    assert!(out.contains("403"), "{out}");
}

fn settings_version(port: u16, token: &str) -> u64 {
    let url = format!("http://127.0.0.1:{port}/v1/workspaces/ws_demo/handoff-settings");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let doc: serde_json::Value = rt.block_on(async {
        reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    });
    doc["version"].as_u64().expect("a version")
}

#[test]
fn tokens_survive_a_restart_and_the_demo_workspace_is_seeded_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let admin = {
        let (_serve, _) = serve(dir.path(), port);
        let admin = token(dir.path(), "ws_demo", "admin");
        assert_eq!(settings_version(port, &admin), 1, "seeded at the first start");
        admin
    };
    let port = free_port();
    let (_serve, _) = serve(dir.path(), port);
    assert_eq!(settings_version(port, &admin), 1, "not seeded again at the second start");
    let (ok, out) = try_cmd(port, &admin);
    assert!(ok, "{out}");
}

#[test]
fn a_second_process_on_the_same_data_directory_exits_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = serve(dir.path(), free_port());
    let out = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("handoff-local runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second one must not run: {stderr}");
    assert!(stderr.contains(&dir.path().display().to_string()), "names the directory: {stderr}");
    assert!(stderr.contains(&format!("pid {}", first.0.id())), "names the other process: {stderr}");
}

/// Whatever captures the stack's output (a terminal log, journald, CI) learns no secret: the
/// signing secret is never printed, the ready admin token only for the demo workspace on a
/// loopback address; the data directory, the secret and the database are their owner's only.
#[cfg(unix)]
#[test]
fn the_output_holds_no_secret_and_the_data_is_the_owner_s_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let (serve_guard, banner) = serve(&dir, free_port());
    let secret = std::fs::read_to_string(dir.join("jwt-secret")).unwrap();
    let banner = banner.join("\n");
    assert!(!banner.contains(secret.trim()), "the secret is printed: {banner}");
    assert!(banner.contains("Admin token for ws_demo"), "on loopback, the demo's admin token: {banner}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the data directory");
    assert_eq!(mode(&dir.join("jwt-secret")), 0o600, "the secret");
    assert_eq!(mode(&dir.join("handoff.sqlite3")), 0o600, "the database");
    drop(serve_guard);

    // A secret file others can read is refused, naming it and the fix.
    std::fs::set_permissions(dir.join("jwt-secret"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(&dir)
        .env_remove("HANDOFF_JWT_SECRET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("jwt-secret") && stderr.contains("chmod 600"), "{stderr}");

    // A short HANDOFF_JWT_SECRET is refused with its length and the rule.
    let out = Command::new(BIN)
        .args(["--in-memory", "--listen", &format!("127.0.0.1:{}", free_port())])
        .env("HANDOFF_JWT_SECRET", "short-secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("12 bytes") && stderr.contains("at least 32"), "{stderr}");
}

/// With `--no-demo` no ready admin token is printed.
#[test]
fn no_admin_token_without_the_demo_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--no-demo", "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path())
        .env_remove("HANDOFF_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let guard = Serve(child);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line.starts_with("Press Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    drop(guard);
    assert!(lines.iter().any(|l| l.starts_with("Press Ctrl-C")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("Admin token")), "{lines:?}");
}
