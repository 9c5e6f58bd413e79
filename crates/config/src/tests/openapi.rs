//! OpenAPI documents of the `validate` policy: the `responses` answers are
//! checked against (read only when `answers` asks for them), and OpenAPI
//! 3.0's own schema keywords (`nullable`, boolean `exclusiveMinimum`).

use serde_json::json;

use super::api::openapi_config;
use super::*;

/// The `validate` policy of the only route of the configuration at `file`.
fn policy(file: &std::path::Path) -> std::sync::Arc<ValidatePolicy> {
    let c = load(file).unwrap();
    match &c.routes[0].policies[0] {
        Policy::Validate(v) => v.clone(),
        _ => panic!("not a validate policy"),
    }
}

fn api(v: &ValidatePolicy) -> &OpenApi {
    match &v.against {
        ValidateAgainst::OpenApi(api) => api,
        ValidateAgainst::Schema(_) => panic!("not OpenAPI"),
    }
}

const RESPONSES: &str = r##"
openapi: 3.0.3
info: {title: pets, version: "1"}
components:
  responses:
    Problem:
      description: a problem
      content:
        application/problem+json; charset=utf-8:
          schema: {type: object, required: [title]}
paths:
  /pets:
    get:
      responses:
        200:
          description: the pets
          headers:
            Content-Type: {schema: {type: string}}
            X-Total: {required: true, schema: {type: integer}}
          content:
            application/json:
              schema: {type: array}
            text/csv: {schema: {type: string}}
        '4XX': {$ref: "#/components/responses/Problem"}
        default: {description: anything}
"##;

#[test]
fn answers_without_a_schema_are_checked_against_the_operations_responses() {
    let dir = TempDir::new("openapi-answers");
    let v = policy(&openapi_config(
        &dir,
        RESPONSES,
        ", answers: {mode: report}",
    ));
    assert!(matches!(v.answers, Some(AnswerCheck::Operation)));
    let responses = &api(&v).operations[0].responses;
    let statuses: Vec<StatusMatch> = responses.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            StatusMatch::Exact(200),
            StatusMatch::Class(4),
            StatusMatch::Default
        ]
    );
    let ok = &responses[0];
    let headers: Vec<(&str, bool)> = ok
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.required))
        .collect();
    assert_eq!(
        headers,
        [("x-total", true)],
        "Content-Type is not a header rule"
    );
    let media: Vec<(&str, bool)> = ok
        .content
        .iter()
        .map(|m| (m.media_type.as_str(), m.schema.is_some()))
        .collect();
    assert_eq!(
        media,
        [("application/json", true), ("text/csv", false)],
        "only JSON media types have their schema compiled"
    );
    let problem = &responses[1].content[0];
    assert_eq!(problem.media_type, "application/problem+json");
    let schema = problem.schema.as_ref().unwrap();
    assert!(!schema.validator.is_valid(&json!({})));
    assert!(responses[2].content.is_empty());
}

#[test]
fn responses_are_read_only_for_answer_checks_and_their_errors_are_located() {
    let dir = TempDir::new("openapi-responses");
    let bad = "openapi: 3.1.0\npaths:\n  /x:\n    get:\n      responses:\n        great: {description: x}\n";
    let v = policy(&openapi_config(&dir, bad, ""));
    assert!(api(&v).operations[0].responses.is_empty());
    assert!(v.answers.is_none());
    let errs = load(&openapi_config(&dir, bad, ", answers: {}"))
        .unwrap_err()
        .0;
    assert!(
        errs[0].message.contains("paths./x.get.responses.great:"),
        "{errs:?}"
    );
    assert!(errs[0].message.contains("`2XX`"), "{errs:?}");
    // With OpenAPI, a schema of its own still applies to every answer.
    let own = ", answers: {schema: {type: object}}";
    let v = policy(&openapi_config(
        &dir,
        bad.replace("great", "200").as_str(),
        own,
    ));
    assert!(matches!(v.answers, Some(AnswerCheck::Schema(_))));
    let both = ", answers: {schema: {}, schema_file: a.json}";
    let errs = load(&openapi_config(&dir, RESPONSES, both)).unwrap_err().0;
    assert!(errs[0].message.contains("at most one"), "{errs:?}");
}

const NULLABLE: &str = r##"
openapi: 3.0.3
info: {title: pets, version: "1"}
components:
  schemas:
    Owner:
      type: object
      required: [name]
      properties: {name: {type: string}}
    Pet:
      type: object
      required: [name, tag, owner, kind]
      properties:
        name: {type: string}
        tag: {type: string, nullable: true}
        kind: {type: string, enum: [cat, dog], nullable: true}
        owner:
          nullable: true
          allOf: [{$ref: "#/components/schemas/Owner"}]
paths:
  /pets:
    get:
      parameters:
        - {name: weight, in: query, schema: {type: number, minimum: 0, exclusiveMinimum: true}}
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
"##;

#[test]
fn openapi_30_nullable_and_boolean_exclusive_bounds_are_understood() {
    let dir = TempDir::new("openapi-30");
    let v = policy(&openapi_config(&dir, NULLABLE, ""));
    let ops = &api(&v).operations;
    let weight = ops[0].parameters[0].schema.as_ref().unwrap();
    assert!(weight.validator.is_valid(&json!(0.5)));
    assert!(!weight.validator.is_valid(&json!(0)), "0 is excluded");
    let pet = ops[1].body.as_ref().unwrap().schema.as_ref().unwrap();
    let nulls = json!({"name": "Rex", "tag": null, "kind": null, "owner": null});
    assert!(pet.validator.is_valid(&nulls));
    let values = json!({"name": "Rex", "tag": "a", "kind": "dog", "owner": {"name": "Ann"}});
    assert!(pet.validator.is_valid(&values));
    assert!(!pet
        .validator
        .is_valid(&json!({"name": null, "tag": null, "kind": null, "owner": null})));
    assert!(!pet
        .validator
        .is_valid(&json!({"name": "Rex", "tag": 1, "kind": "cow", "owner": {}})));
    // OpenAPI 3.1 is JSON Schema 2020-12: `nullable` means nothing there.
    let v31 = NULLABLE
        .replace("3.0.3", "3.1.0")
        .replace(", exclusiveMinimum: true", "");
    let v = policy(&openapi_config(&dir, &v31, ""));
    let pet = api(&v).operations[1]
        .body
        .as_ref()
        .unwrap()
        .schema
        .as_ref()
        .unwrap();
    assert!(!pet.validator.is_valid(&nulls));
}
