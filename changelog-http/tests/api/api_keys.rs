//! API keys: shown once, used as a bearer token or `X-API-Key`, scoped, counted, revoked,
//! expired, and invisible to other users.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Server, error, invalid};

crate::suite!(
    keys_are_shown_once_and_work_in_either_header,
    read_only_revoked_and_expired_keys_are_refused,
    another_users_key_is_404,
);

async fn keys_are_shown_once_and_work_in_either_header(s: &Server) {
    let alice = s.user("alice").await;
    let created = s
        .as_user(&alice, Method::POST, "/auth/api-keys")
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("clk_"), "{created}");
    assert_eq!(created["scopes"], json!(["read", "write"]));

    let by_bearer = s
        .api(Method::POST, "/changelogs")
        .bearer_auth(&key)
        .json(&json!({"source": "manual", "title": "From CI", "content": "- built"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_bearer.status(), StatusCode::CREATED);
    let by_header = s
        .api(Method::GET, "/changelogs")
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    let page: Value = by_header.json().await.unwrap();
    assert_eq!(page["items"][0]["title"], "From CI");

    let listed: Value = s.get_json(&alice, "/auth/api-keys").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("key").is_none(),
        "the key is shown once: {listed}"
    );
    assert_eq!(listed[0]["use_count"], 2);
    assert!(listed[0]["last_used_at"].is_string());

    // A key cannot mint keys.
    let minted = s
        .api(Method::POST, "/auth/api-keys")
        .bearer_auth(&key)
        .json(&json!({"name": "more"}))
        .send()
        .await
        .unwrap();
    error(minted, StatusCode::FORBIDDEN).await;
    // Nor list them.
    let listed_by_key = s
        .api(Method::GET, "/auth/api-keys")
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    error(listed_by_key, StatusCode::FORBIDDEN).await;

    invalid(
        s.as_user(&alice, Method::POST, "/auth/api-keys")
            .json(&json!({"name": "x", "scopes": ["admin"]}))
            .send()
            .await
            .unwrap(),
        "scopes",
    )
    .await;
    invalid(
        s.as_user(&alice, Method::POST, "/auth/api-keys")
            .json(&json!({"scopes": ["read"]}))
            .send()
            .await
            .unwrap(),
        "name",
    )
    .await;
}

async fn read_only_revoked_and_expired_keys_are_refused(s: &Server) {
    let bob = s.user("bob").await;
    let bob = &bob;
    let make = |body: Value| async move {
        let created: Value = s
            .as_user(bob, Method::POST, "/auth/api-keys")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            created["id"].as_str().unwrap().to_owned(),
            created["key"].as_str().unwrap().to_owned(),
        )
    };
    let (_, reader) = make(json!({"name": "reader", "scopes": ["read"]})).await;
    let list = s
        .api(Method::GET, "/changelogs")
        .header("x-api-key", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let write = s
        .api(Method::POST, "/changelogs")
        .header("x-api-key", &reader)
        .json(&json!({"source": "manual", "title": "no", "content": "no"}))
        .send()
        .await
        .unwrap();
    error(write, StatusCode::FORBIDDEN).await;

    let (id, revoked) = make(json!({"name": "old"})).await;
    let deleted = s
        .as_user(bob, Method::DELETE, &format!("/auth/api-keys/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let refused = s
        .api(Method::GET, "/changelogs")
        .bearer_auth(&revoked)
        .send()
        .await
        .unwrap();
    error(refused, StatusCode::UNAUTHORIZED).await;

    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let (_, expiring) = make(json!({"name": "brief", "expires_at": soon})).await;
    let before = s
        .api(Method::GET, "/changelogs")
        .bearer_auth(&expiring)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    let after = s
        .api(Method::GET, "/changelogs")
        .bearer_auth(&expiring)
        .send()
        .await
        .unwrap();
    error(after, StatusCode::UNAUTHORIZED).await;

    let unknown = s
        .api(Method::GET, "/changelogs")
        .header("x-api-key", "clk_00000000_0000")
        .send()
        .await
        .unwrap();
    error(unknown, StatusCode::UNAUTHORIZED).await;
}

async fn another_users_key_is_404(s: &Server) {
    let carol = s.user("carol").await;
    let dave = s.user("dave").await;
    let created: Value = s
        .as_user(&carol, Method::POST, "/auth/api-keys")
        .json(&json!({"name": "carol's"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let theirs = s
        .as_user(&dave, Method::DELETE, &format!("/auth/api-keys/{id}"))
        .send()
        .await
        .unwrap();
    error(theirs, StatusCode::NOT_FOUND).await;
    let listed: Value = s.get_json(&dave, "/auth/api-keys").await;
    assert_eq!(listed, json!([]));
    for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        let response = s
            .as_user(&carol, Method::DELETE, &format!("/auth/api-keys/{bad}"))
            .send()
            .await
            .unwrap();
        error(response, StatusCode::NOT_FOUND).await;
    }
    // Still working for its owner.
    let key = created["key"].as_str().unwrap();
    let ok = s
        .api(Method::GET, "/auth/me")
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}
