//! `tollgate upgrade`: asks a running tollgate, through its admin API's
//! `POST /upgrade`, to start the binary again and hand its listening
//! sockets over; prints the new pid or why the new process did not start.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::status::{call, refused, target};

/// Longer than the running process waits for its successor (60 s).
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(90);

/// `tollgate upgrade`: the admin address and token as for `tollgate status`.
pub fn upgrade(config: Option<&Path>, admin: Option<&str>, token_file: Option<&Path>) -> ExitCode {
    let asked = target(config, admin, token_file).and_then(|(address, token)| {
        let (code, body) = call(
            address,
            "POST",
            "/upgrade",
            token.as_deref(),
            UPGRADE_TIMEOUT,
        )?;
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        match code.as_str() {
            "200" => Ok(format!(
                "tollgate: upgraded: pid {} now serves, pid {} drains and exits\n",
                json["new_pid"], json["old_pid"]
            )),
            "502" => Err(format!(
                "upgrade failed, the running process goes on serving: {}",
                json["error"].as_str().unwrap_or(body.trim())
            )),
            _ => Err(refused(address, "/upgrade", &code, &body)),
        }
    });
    match asked {
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
