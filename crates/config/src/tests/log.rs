//! `log:`: the event log's level, format and destination.

use super::*;

const REST: &str =
    "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n";

#[test]
fn absent_means_info_text_on_stderr() {
    let c = parse(REST).unwrap();
    assert_eq!(
        c.log,
        Log {
            level: LogLevel::Info,
            format: LogFormat::Text,
            output: LogOutput::Stderr
        }
    );
}

#[test]
fn every_field_is_read() {
    let c = parse(&format!(
        "log: {{level: debug, format: json, output: /var/log/tollgate/events.log}}\n{REST}"
    ))
    .unwrap();
    assert_eq!(c.log.level, LogLevel::Debug);
    assert_eq!(c.log.level.as_str(), "debug");
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(
        c.log.output,
        LogOutput::File("/var/log/tollgate/events.log".into())
    );
    // A relative path is taken from the configuration file's directory.
    let c = parse(&format!("log: {{output: events.log}}\n{REST}")).unwrap();
    assert_eq!(c.log.output, LogOutput::File("./events.log".into()));
}

#[test]
fn bad_values_are_located() {
    expect_errors(
        &format!("log: {{level: loud, format: xml, output: stdout, colour: on}}\n{REST}"),
        &[
            (
                1,
                "log.level",
                "expected `error`, `warn`, `info`, `debug`, `trace` or `off`, got `loud`",
            ),
            (1, "log.format", "expected `text` or `json`, got `xml`"),
            (1, "log.output", "standard output is for the access log"),
            (1, "log.colour", "unknown field `colour`"),
        ],
    );
}

#[test]
fn access_log_headers_are_named_fields_without_credentials() {
    assert!(parse(REST).unwrap().access_log_headers.is_empty());
    let c = parse(&format!(
        "access_log: {{output: stdout, headers: [User-Agent, referer]}}\n{REST}"
    ))
    .unwrap();
    assert_eq!(
        c.access_log_headers,
        [http::header::USER_AGENT, http::header::REFERER]
    );
    expect_errors(
        &format!(
            "access_log: {{headers: [Authorization, x-api-key, Cookie, \"bad name\"]}}\n{REST}"
        ),
        &[
            (1, "access_log.headers[0]", "may carry a credential"),
            (1, "access_log.headers[1]", "may carry a credential"),
            (1, "access_log.headers[2]", "may carry a credential"),
            (1, "access_log.headers[3]", "invalid header name"),
        ],
    );
}
