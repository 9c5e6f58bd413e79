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
