//! The server answers as its OpenAPI document says: each test here is a mismatch found by
//! writing the document exactly or by schemathesis (`.ci/api-conformance.sh`), reproduced.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Server, error, invalid};

crate::suite!(
    password_and_address_limits_count_characters,
    a_null_body_is_no_body,
    manual_changelogs_check_temperature_and_style,
    bodies_are_objects_not_arrays,
    a_revision_may_be_written_as_a_whole_float,
    a_login_name_with_nul_is_an_unknown_user,
    limits_count_text_as_sent,
);

/// The document's `maxLength` counts characters; the password and e-mail limits counted bytes.
async fn password_and_address_limits_count_characters(s: &Server) {
    let register = |name: &str, email: String, password: String| {
        s.api(Method::POST, "/auth/register")
            .json(&json!({"username": name, "email": email, "password": password}))
            .send()
    };
    // 300 four-byte characters: 1,200 bytes, 300 characters.
    let wide: String = "🦀🐍🐘🐙🦊".chars().cycle().take(300).collect();
    let response = register("wide", "wide@example.com".into(), wide)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let too_long: String = "abcdefghij".chars().cycle().take(1025).collect();
    invalid(
        register("long", "long@example.com".into(), too_long)
            .await
            .unwrap(),
        "password",
    )
    .await;
    // 200 two-byte characters before the `@`: 400 bytes, 212 characters.
    let address = format!("{}@example.com", "é".repeat(200));
    let response = register("accent", address, "correct horse battery".into())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let address = format!("{}@example.com", "e".repeat(250));
    invalid(
        register("longmail", address, "correct horse battery".into())
            .await
            .unwrap(),
        "email",
    )
    .await;
}

/// Logout and restore take an optional body, documented as `T | null`: `null` is no body.
async fn a_null_body_is_no_body(s: &Server) {
    let alice = s.user("alice").await;
    let created = s
        .changelog(&alice, json!({"source": "manual", "content": "one"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let edited = s
        .as_user(&alice, Method::PATCH, &format!("/changelogs/{id}"))
        .header("if-match", "\"1\"")
        .json(&json!({"content": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    let restored = s
        .as_user(
            &alice,
            Method::POST,
            &format!("/changelogs/{id}/versions/1/restore"),
        )
        .header("if-match", "\"2\"")
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status(), StatusCode::OK);
    let logout = s
        .as_user(&alice, Method::POST, "/auth/logout")
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
}

/// `temperature` and `style` were accepted unchecked with `source: manual`.
async fn manual_changelogs_check_temperature_and_style(s: &Server) {
    let alice = s.user("alice").await;
    let create = |body: serde_json::Value| {
        s.as_user(&alice, Method::POST, "/changelogs")
            .json(&body)
            .send()
    };
    invalid(
        create(json!({"source": "manual", "content": "x", "temperature": 2.5}))
            .await
            .unwrap(),
        "temperature",
    )
    .await;
    invalid(
        create(json!({"source": "manual", "content": "x", "style": "haiku"}))
            .await
            .unwrap(),
        "style",
    )
    .await;
    let fine = create(json!({
        "source": "manual", "content": "x", "temperature": 1.5, "style": "release-notes",
    }))
    .await
    .unwrap();
    assert_eq!(fine.status(), StatusCode::CREATED);
}

/// serde reads a struct from a JSON array of its fields; the document says every body is an
/// object. `[]` signed out, `["token"]` refreshed.
async fn bodies_are_objects_not_arrays(s: &Server) {
    let alice = s.user("alice").await;
    let refresh = s
        .api(Method::POST, "/auth/refresh")
        .json(&json!([alice.refresh]))
        .send()
        .await
        .unwrap();
    invalid(refresh, "body").await;
    let logout = s
        .as_user(&alice, Method::POST, "/auth/logout")
        .header("content-type", "application/json")
        .body(" [] ")
        .send()
        .await
        .unwrap();
    invalid(logout, "body").await;
    let created = s
        .as_user(&alice, Method::POST, "/changelogs")
        .json(&json!(["manual"]))
        .send()
        .await
        .unwrap();
    invalid(created, "body").await;
    // The session is still there: the refresh token still works.
    let refreshed = s
        .api(Method::POST, "/auth/refresh")
        .json(&json!({"refresh_token": alice.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
}

/// JSON Schema's `integer` includes `2.0` and `2e0`; serde's `i64` refused them (422).
async fn a_revision_may_be_written_as_a_whole_float(s: &Server) {
    let alice = s.user("alice").await;
    let created = s
        .changelog(&alice, json!({"source": "manual", "content": "one"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/changelogs/{id}");
    let edit = |body: serde_json::Value| s.as_user(&alice, Method::PATCH, &path).json(&body).send();
    let response = edit(json!({"content": "two", "revision": 1.0}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = s
        .as_user(&alice, Method::PATCH, &path)
        .header("content-type", "application/json")
        .body(r#"{"content": "three", "revision": 2e0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A fraction is not a revision; a stale whole number is a conflict, as ever.
    invalid(edit(json!({"revision": 2.5})).await.unwrap(), "revision").await;
    let stale = edit(json!({"revision": -1e18})).await.unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
}

/// PostgreSQL refuses NUL even as a query parameter: signing in as `a\0b` was a 500 there.
async fn a_login_name_with_nul_is_an_unknown_user(s: &Server) {
    let _alice = s.user("alice").await;
    for login in ["ali\0ce", "alice@example.com\0"] {
        let json = s
            .api(Method::POST, "/auth/login")
            .json(&json!({"username": login, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        error(json, StatusCode::UNAUTHORIZED).await;
        let form = s
            .api(Method::POST, "/auth/login")
            .form(&[("username", login), ("password", "correct horse battery")])
            .send()
            .await
            .unwrap();
        error(form, StatusCode::UNAUTHORIZED).await;
    }
}

/// `maxLength` counts what is sent; the server counted the address, a key's name and tags
/// after trimming, and accepted longer ones padded with whitespace.
async fn limits_count_text_as_sent(s: &Server) {
    let pad = "\u{3000}".repeat(10);
    let address = format!("{pad}{}@example.com", "e".repeat(240));
    let register = s
        .api(Method::POST, "/auth/register")
        .json(&json!({"username": "padded", "email": address, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    invalid(register, "email").await;
    let alice = s.user("alice").await;
    let key = s
        .as_user(&alice, Method::POST, "/auth/api-keys")
        .json(&json!({"name": format!("{pad}{}", "k".repeat(95))}))
        .send()
        .await
        .unwrap();
    invalid(key, "name").await;
    let changelog = s
        .as_user(&alice, Method::POST, "/changelogs")
        .json(&json!({"source": "manual", "content": "x", "tags": [format!("{pad}{}", "t".repeat(60))]}))
        .send()
        .await
        .unwrap();
    invalid(changelog, "tags").await;
    // Within the limits, padding is trimmed as before.
    let key = s
        .as_user(&alice, Method::POST, "/auth/api-keys")
        .json(&json!({"name": "  ci  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), StatusCode::CREATED);
    let key: serde_json::Value = key.json().await.unwrap();
    assert_eq!(key["name"], "ci");
}
