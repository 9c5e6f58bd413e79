//! The admin API's actions against the real binary: `POST /reload`
//! (applied, refused, dry run), `PUT /config`, draining a target across a
//! reload, cache purges.

use serde_json::Value;
use tollgate_testkit::{get, request};

#[path = "support/admin.rs"]
mod support;
use support::*;

#[test]
fn reload_through_the_api_applies_refuses_and_dry_runs() {
    let s = start();
    let web = s.tg.addr("web");
    let with_new_route = s.text.replace(
        "routes:\n",
        "routes:\n  - {name: fresh, match: {path: {exact: /fresh}}, respond: {body: new}}\n",
    );

    // dry_run: the change is reported, nothing applied.
    s.dir.write("tollgate.yaml", &with_new_route);
    let dry = call(s.admin, "POST", "/reload?dry_run=true");
    assert_eq!(dry.status, 200, "{}", dry.text());
    let dry = json(&dry);
    assert_eq!(
        (dry["applied"].clone(), dry["dry_run"].clone()),
        (false.into(), true.into())
    );
    assert_eq!(dry["changes"]["routes"]["added"][0], "fresh");
    assert_ne!(get(web, "/fresh").text(), "new");
    assert_eq!(
        json(&call(s.admin, "GET", "/status"))["last_reload"],
        Value::Null
    );

    // Applied: the new route answers.
    let applied = call(s.admin, "POST", "/reload");
    assert_eq!(applied.status, 200, "{}", applied.text());
    let applied = json(&applied);
    assert_eq!(applied["applied"], true);
    assert_eq!(applied["changes"]["routes"]["added"][0], "fresh");
    assert_eq!(get(web, "/fresh").text(), "new");
    let status = json(&call(s.admin, "GET", "/status"));
    assert_eq!(status["last_reload"]["result"], "applied");
    assert_eq!(status["routes"], 4);

    // A broken file: located errors, nothing changes.
    let broken = with_new_route.replace("upstream: app}", "upstream: nowhere}");
    s.dir.write("tollgate.yaml", &broken);
    let refused = call(s.admin, "POST", "/reload");
    assert_eq!(refused.status, 422, "{}", refused.text());
    let refused = json(&refused);
    assert_eq!(refused["applied"], false);
    let e = &refused["errors"][0];
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown upstream `nowhere`"),
        "{e}"
    );
    assert_eq!(e["path"], "routes[3].upstream");
    assert!(e["line"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(get(web, "/fresh").text(), "new");
    assert_eq!(
        json(&call(s.admin, "GET", "/status"))["last_reload"]["result"],
        "refused"
    );
    // A dry run of the broken file says the same, with 422.
    assert_eq!(call(s.admin, "POST", "/reload?dry_run=true").status, 422);

    // Listeners cannot change on a reload: the server's reason, nothing applied.
    let moved = with_new_route.replace(
        "name: web, address: \"127.0.0.1:0\"",
        "name: web, address: \"127.0.0.2:0\"",
    );
    assert_ne!(moved, with_new_route);
    s.dir.write("tollgate.yaml", &moved);
    let refused = call(s.admin, "POST", "/reload");
    assert_eq!(refused.status, 422, "{}", refused.text());
    let refused = json(&refused);
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("listeners changed"),
        "{refused}"
    );
    assert_eq!(refused["changes"]["listeners"]["changed"][0], "web");
    assert_eq!(get(web, "/fresh").text(), "new");
}

#[test]
fn cache_purge_empties_the_store() {
    let s = start();
    let web = s.tg.addr("web");
    for path in ["/c/one", "/c/two", "/c/one"] {
        assert_eq!(get(web, path).status, 200);
    }
    let entries =
        |s: &Setup| json(&call(s.admin, "GET", "/caches"))["caches"][0]["entries"].clone();
    assert_eq!(entries(&s), 2);
    let missing = call(s.admin, "POST", "/caches/nothing/purge");
    assert_eq!(missing.status, 404);
    let purged = json(&call(s.admin, "POST", "/caches/cached/purge"));
    assert_eq!(purged["purged"], 2);
    assert_eq!(entries(&s), 0);
}

#[test]
fn a_drained_target_takes_no_new_requests_across_a_reload_until_enabled() {
    let s = start();
    let web = s.tg.addr("web");
    let (a, b) = (&s.ups[0], &s.ups[1]);
    let target_b = b.addr().to_string();
    let drain = format!("/upstreams/app/targets/{target_b}/drain");
    let r = call(s.admin, "POST", &drain);
    assert_eq!(r.status, 200, "{}", r.text());
    let unknown = call(s.admin, "POST", "/upstreams/app/targets/10.9.9.9:1/drain");
    assert_eq!(unknown.status, 404);

    let send = |n: usize| {
        for _ in 0..n {
            assert_eq!(get(web, "/any").status, 200);
        }
    };
    let (a0, b0) = (a.request_count(), b.request_count());
    send(10);
    assert_eq!(b.request_count(), b0, "a drained target got a request");
    assert_eq!(a.request_count(), a0 + 10);
    let ups = json(&call(s.admin, "GET", "/upstreams"));
    assert_eq!(ups["upstreams"][0]["targets"][1]["drained"], true);
    assert_eq!(ups["drained"][0]["target"], target_b);

    // A reload that changes the upstream keeps the drain.
    s.dir.write(
        "tollgate.yaml",
        s.text
            .replace("  - name: app\n", "  - name: app\n    balance: random\n"),
    );
    let reloaded = call(s.admin, "POST", "/reload");
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(json(&reloaded)["changes"]["upstreams"]["changed"][0], "app");
    send(10);
    assert_eq!(
        b.request_count(),
        b0,
        "the drain did not survive the reload"
    );

    // Enabled again, it takes its share.
    let enable = format!("/upstreams/app/targets/{target_b}/enable");
    assert_eq!(call(s.admin, "POST", &enable).status, 200);
    send(20);
    assert!(b.request_count() > b0, "an enabled target got nothing");
    let ups = json(&call(s.admin, "GET", "/upstreams"));
    assert_eq!(ups["upstreams"][0]["targets"][1]["drained"], false);
}

/// `POST .../weight` with a JSON body, with the right token.
fn set_weight(
    admin: std::net::SocketAddr,
    target: &str,
    body: &str,
) -> tollgate_testkit::HttpResponse {
    let path = format!("/upstreams/app/targets/{target}/weight");
    let auth = format!("Bearer {TOKEN}");
    request(
        admin,
        "POST",
        &path,
        &[("authorization", &auth)],
        body.as_bytes(),
    )
}

#[test]
fn a_weight_override_steers_traffic_across_a_reload_until_cleared() {
    let s = start();
    let web = s.tg.addr("web");
    let (a, b) = (&s.ups[0], &s.ups[1]);
    let target_b = b.addr().to_string();
    assert_eq!(
        set_weight(s.admin, &target_b, r#"{"weight": 0}"#).status,
        400
    );
    assert_eq!(set_weight(s.admin, &target_b, "nine").status, 400);
    assert_eq!(
        set_weight(s.admin, "10.9.9.9:1", r#"{"weight": 9}"#).status,
        404
    );
    let r = set_weight(s.admin, &target_b, r#"{"weight": 9}"#);
    assert_eq!(r.status, 200, "{}", r.text());

    // Round robin with weights 1 and 9: b takes 9 of every 10 (some slack
    // in case a request in the middle of the swap used the old weights).
    let share_of_b = |n: usize| {
        let (a0, b0) = (a.request_count(), b.request_count());
        for _ in 0..n {
            assert_eq!(get(web, "/any").status, 200);
        }
        let (da, db) = (a.request_count() - a0, b.request_count() - b0);
        assert_eq!(da + db, n);
        db
    };
    let to_b = share_of_b(50);
    assert!(to_b >= 40, "b took {to_b} of 50 at weight 9 against 1");
    let ups = json(&call(s.admin, "GET", "/upstreams"));
    let shown = &ups["upstreams"][0]["targets"][1];
    assert_eq!(shown["weight"], 9);
    assert_eq!(shown["weight_override"], 9);
    assert_eq!(shown["configured_weight"], 1);
    assert_eq!(ups["weights"][0]["target"], target_b);

    // A reload that rebuilds the upstream keeps the override.
    s.dir.write(
        "tollgate.yaml",
        s.text
            .replace("  - name: app\n", "  - name: app\n    balance: random\n"),
    );
    let reloaded = call(s.admin, "POST", "/reload");
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(json(&reloaded)["changes"]["upstreams"]["changed"][0], "app");
    // Random at 9:1 over 200 requests: b's expected 180, 150 is > 6 sigma off.
    let to_b = share_of_b(200);
    assert!(to_b >= 150, "after the reload b took {to_b} of 200");

    // Cleared, both get about half again.
    let auth = format!("Bearer {TOKEN}");
    let path = format!("/upstreams/app/targets/{target_b}/weight");
    let cleared = request(s.admin, "DELETE", &path, &[("authorization", &auth)], b"");
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    let to_b = share_of_b(200);
    assert!((50..=150).contains(&to_b), "cleared, b took {to_b} of 200");
    let ups = json(&call(s.admin, "GET", "/upstreams"));
    assert_eq!(
        ups["upstreams"][0]["targets"][1]["weight_override"],
        Value::Null
    );
    assert_eq!(ups["upstreams"][0]["targets"][1]["weight"], 1);
}

#[test]
fn put_config_validates_applies_and_optionally_writes_the_file() {
    let s = start();
    let web = s.tg.addr("web");
    let path = s.dir.path().join("tollgate.yaml");
    let auth = format!("Bearer {TOKEN}");
    let put = |query: &str, body: &str| {
        request(
            s.admin,
            "PUT",
            &format!("/config{query}"),
            &[
                ("authorization", &auth),
                ("content-type", "application/yaml"),
            ],
            body.as_bytes(),
        )
    };
    let with_route = |name: &str, body: &str| {
        s.text.replace(
            "routes:\n",
            &format!("routes:\n  - {{name: {name}, match: {{path: {{exact: /{name}}}}}, respond: {{body: {body}}}}}\n"),
        )
    };

    // Invalid YAML: located errors, nothing changes.
    let broken = s.text.replace("upstream: app}", "upstream: nowhere}");
    let r = put("", &broken);
    assert_eq!(r.status, 422, "{}", r.text());
    let e = &json(&r)["errors"][0];
    assert!(
        e["text"].as_str().unwrap().contains("tollgate.yaml:"),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown upstream `nowhere`"),
        "{e}"
    );
    assert_eq!(get(web, "/hello").text(), "hunter2-from-env");

    // Dry run: valid, reported, not applied.
    let r = put("?dry_run=true", &with_route("dry", "d"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["changes"]["routes"]["added"][0], "dry");
    assert_ne!(get(web, "/dry").text(), "d");

    // Applied without writing: serves at once, the file stays as it was,
    // /config shows what is applied.
    let r = put("", &with_route("one", "first"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["applied"], true);
    assert_eq!(get(web, "/one").text(), "first");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), s.text);
    let config = json(&call(s.admin, "GET", "/config"));
    assert_eq!(config["routes"][0]["name"], "one");

    // Applied and written: the file is replaced, the previous one kept.
    let two = with_route("two", "second");
    let r = put("?write=true", &two);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["written"], true);
    assert_eq!(get(web, "/two").text(), "second");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), two);
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("tollgate.yaml.prev")).unwrap(),
        s.text
    );
    let wrong = request(
        s.admin,
        "DELETE",
        "/config",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(
        (wrong.status, wrong.header("allow")),
        (405, Some("GET, PUT"))
    );
}
