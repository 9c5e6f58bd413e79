//! `tollgate status`: asks a running tollgate's admin API for `/status`
//! and `/upstreams` and prints a summary for people.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

/// How long the admin API may take to connect and answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `tollgate status`: the admin address and token come from `--admin` and
/// `--token-file`, or else from the configuration file's `admin:` block.
pub fn status(config: Option<&Path>, admin: Option<&str>, token_file: Option<&Path>) -> ExitCode {
    match summary(config, admin, token_file) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(1)
        }
    }
}

/// The printed summary, or why there is none.
fn summary(
    config: Option<&Path>,
    admin: Option<&str>,
    token_file: Option<&Path>,
) -> Result<String, String> {
    let (address, token) = target(config, admin, token_file)?;
    let status = get_json(address, "/status", token.as_deref())?;
    let upstreams = get_json(address, "/upstreams", token.as_deref())?;
    Ok(render(&status, &upstreams))
}

/// Where to ask and with which token.
pub(crate) fn target(
    config: Option<&Path>,
    admin: Option<&str>,
    token_file: Option<&Path>,
) -> Result<(SocketAddr, Option<String>), String> {
    let from_file = match config {
        Some(path) => {
            let c = tollgate_config::load(path).map_err(|e| e.to_string())?;
            let a = c
                .admin
                .ok_or_else(|| format!("{}: has no `admin:` block", path.display()))?;
            Some(a)
        }
        None => None,
    };
    let address = match (admin, &from_file) {
        (Some(a), _) => a
            .parse::<SocketAddr>()
            .map_err(|_| format!("--admin: expected ip:port, got `{a}`"))?,
        (None, Some(a)) if a.address.port() == 0 => {
            return Err(format!(
                "admin.address {} has port 0 (chosen at start): give --admin ADDR",
                a.address
            ))
        }
        (None, Some(a)) => a.address,
        (None, None) => "127.0.0.1:9901".parse().expect("a valid address"),
    };
    let token = match (token_file, from_file.and_then(|a| a.token)) {
        (Some(f), _) => Some(tollgate_config::SecretSource::File(f.to_path_buf()).read()?),
        (None, Some(source)) => Some(source.read()?),
        (None, None) => None,
    };
    Ok((reachable(address), token))
}

/// A wildcard listening address asked on the same host's loopback.
fn reachable(mut address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => address.set_ip(Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(ip) if ip.is_unspecified() => address.set_ip(Ipv6Addr::LOCALHOST.into()),
        _ => {}
    }
    address
}

/// `GET path` on the admin API; the JSON body of a 200 answer.
fn get_json(address: SocketAddr, path: &str, token: Option<&str>) -> Result<Value, String> {
    let (code, body) = call(address, "GET", path, token, TIMEOUT)?;
    match code.as_str() {
        "200" => serde_json::from_str(&body).map_err(|e| format!("admin API {path}: {e}")),
        _ => Err(refused(address, path, &code, &body)),
    }
}

/// Why an answer other than 200 came: the token, or the status and body.
pub(crate) fn refused(address: SocketAddr, path: &str, code: &str, body: &str) -> String {
    match code {
        "401" => {
            format!("admin API at {address} refused the token (401); give --token-file or -c FILE")
        }
        _ => format!("admin API {path} answered {code}: {}", body.trim()),
    }
}

/// `METHOD path` on the admin API (no request body), waiting up to
/// `timeout` for the answer: its status code and body.
pub(crate) fn call(
    address: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<(String, String), String> {
    let fail = |e: std::io::Error| format!("admin API at {address}: {e}");
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(fail)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(fail)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("admin API at {address}: incomplete answer"))?;
    let code = head.split(' ').nth(1).unwrap_or("").to_owned();
    Ok((code, body.to_owned()))
}

/// The summary text.
fn render(status: &Value, upstreams: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    out += &format!(
        "tollgate {} (pid {}), up {}s, {}\n",
        s(&status["version"]),
        s(&status["pid"]),
        s(&status["uptime_seconds"]),
        if status["ready"] == true {
            "ready"
        } else {
            "NOT READY"
        }
    );
    out += &format!(
        "config: {} (hash {})\n",
        s(&status["config"]["path"]),
        s(&status["config"]["hash"])
    );
    let last = &status["last_reload"];
    out += &match last {
        Value::Null => "last reload: none since start\n".to_string(),
        _ => format!(
            "last reload: {} at {}\n",
            s(&last["result"]),
            s(&last["at"])
        ),
    };
    out += &format!("workers: {}\n", s(&status["workers"]));
    out += "listeners:\n";
    for l in status["listeners"].as_array().into_iter().flatten() {
        out += &format!(
            "  {} {} {}\n",
            s(&l["name"]),
            s(&l["protocol"]),
            s(&l["address"])
        );
    }
    out += &format!("routes: {}\n", s(&status["routes"]));
    out += "upstreams:\n";
    for u in upstreams["upstreams"].as_array().into_iter().flatten() {
        out += &format!(
            "  {}: {}/{} targets available\n",
            s(&u["name"]),
            s(&u["available"]),
            s(&u["total"])
        );
        for t in u["targets"].as_array().into_iter().flatten() {
            let state = match (t["available"] == true, t["drained"] == true) {
                (_, true) => "DRAINED",
                (true, false) => "up",
                (false, false) => "DOWN",
            };
            let reason = t["reason"]
                .as_str()
                .map_or(String::new(), |r| format!(" ({r})"));
            out += &format!("    {} {state}{reason}\n", s(&t["address"]));
        }
    }
    out
}
