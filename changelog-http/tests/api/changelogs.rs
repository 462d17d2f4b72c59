//! Changelogs over HTTP: create, read with ETags, list with filters and cursors, revisioned
//! edits, versions and restore, tags, annotations, export, delete, and the isolation of users.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Server, User, error, invalid};

crate::suite!(
    create_read_and_conditional_get,
    the_fastapi_request_model_is_accepted_and_checked,
    listing_filters_and_pages_with_a_cursor,
    edits_name_their_revision_and_stale_ones_conflict,
    versions_restore_and_tags,
    annotations_and_export,
    another_user_gets_404_for_everything,
    ids_that_are_not_ids_are_404,
    credentials_in_repo_url_are_never_stored,
);

async fn credentials_in_repo_url_are_never_stored(s: &Server) {
    let alice = s.user("alice").await;
    let created = s
        .as_user(&alice, Method::POST, "/changelogs")
        .json(&json!({
            "source": "manual",
            "repo_url": "https://u:SECRET-pw@github.com/acme/widgets?access_token=SECRET-tok",
            "content": "- notes",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["repository"], "https://github.com/acme/widgets");
    let listed = s
        .as_user(&alice, Method::GET, "/changelogs")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("SECRET"), "{listed}");
}

async fn create_read_and_conditional_get(s: &Server) {
    let alice = s.user("alice").await;
    let created = s
        .as_user(&alice, Method::POST, "/changelogs")
        .json(&json!({
            "source": "manual",
            "repo_url": "https://github.com/acme/widgets",
            "version": "v1.2.0",
            "title": "Widgets 1.2",
            "content": "## Features\n- faster",
            "tags": ["Release", "api"],
            "is_public": false,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = created.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/changelogs/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(body["tags"], json!(["api", "release"]));
    assert_eq!(body["source"], "manual");
    assert_eq!(body["repository"], "https://github.com/acme/widgets");
    assert_eq!(body["revision"], 1);

    let read = s
        .as_user(&alice, Method::GET, &location[7..])
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.headers()["etag"], "\"1\"");
    let read: Value = read.json().await.unwrap();
    assert_eq!(read, body);

    let cached = s
        .as_user(&alice, Method::GET, &location[7..])
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let stale = s
        .as_user(&alice, Method::GET, &location[7..])
        .header("if-none-match", "\"0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
}

async fn the_fastapi_request_model_is_accepted_and_checked(s: &Server) {
    let bob = s.user("bob").await;
    let post = |body: Value| {
        s.as_user(&bob, Method::POST, "/changelogs")
            .json(&body)
            .send()
    };
    // Every field of the model, as its clients send it.
    let full = post(json!({
        "source": "manual", "repo_url": "acme/widgets", "commit_range": "v1.1.0..v1.2.0",
        "version": "1.2.0", "content": "- x", "title": "T", "tags": [], "model": "gpt-4o-mini",
        "temperature": 0.2, "style": "keep-a-changelog", "is_public": true,
    }))
    .await
    .unwrap();
    assert_eq!(full.status(), StatusCode::CREATED);

    invalid(
        post(json!({"source": "manual", "title": "T"}))
            .await
            .unwrap(),
        "content",
    )
    .await;
    invalid(
        post(json!({"title": "T", "content": "x"})).await.unwrap(),
        "source",
    )
    .await;
    invalid(
        post(json!({"source": "svn", "content": "x"}))
            .await
            .unwrap(),
        "source",
    )
    .await;
    invalid(
        post(json!({"source": "manual", "content": "x", "tags": "release"}))
            .await
            .unwrap(),
        "tags",
    )
    .await;
    invalid(
        post(json!({"source": "manual", "content": "x", "owner_id": "me"}))
            .await
            .unwrap(),
        "owner_id",
    )
    .await;
    invalid(
        post(json!({"source": "manual", "content": "x", "title": ""}))
            .await
            .unwrap(),
        "title",
    )
    .await;
    invalid(
        post(json!({"source": "manual", "content": "x", "tags": ["a".repeat(65)]}))
            .await
            .unwrap(),
        "tags",
    )
    .await;
    // A repository outside the server's root is refused before anything is queued.
    let git = post(json!({"source": "git", "repo_url": "/srv/repos/widgets"}))
        .await
        .unwrap();
    invalid(git, "repo_url").await;
    // Over the body limit of the test server (64 KiB).
    let huge = post(json!({"source": "manual", "content": "x".repeat(100 * 1024)}))
        .await
        .unwrap();
    error(huge, StatusCode::PAYLOAD_TOO_LARGE).await;
    let text = s
        .as_user(&bob, Method::POST, "/changelogs")
        .body("source=manual")
        .send()
        .await
        .unwrap();
    error(text, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

async fn listing_filters_and_pages_with_a_cursor(s: &Server) {
    let carol = s.user("carol").await;
    for i in 0..5 {
        s.changelog(
            &carol,
            json!({
                "source": "manual",
                "title": format!("Release {i}"),
                "version": format!("v1.{i}.0"),
                "repo_url": if i % 2 == 0 { "acme/even" } else { "acme/odd" },
                "content": if i == 3 { "the flux capacitor is fixed" } else { "routine work" },
                "tags": if i < 2 { vec!["early"] } else { vec!["late", "x"] },
            }),
        )
        .await;
    }
    // A listed changelog is its summary: what it is and its state, without how it was made
    // (source, range, model) or what it cost, which `GET /changelogs/{id}` shows.
    let page: Value = s.get_json(&carol, "/changelogs?limit=1").await;
    let item = page["items"][0].as_object().expect("an item");
    let mut fields: Vec<&str> = item.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "content",
            "created_at",
            "id",
            "is_public",
            "repository",
            "revision",
            "status",
            "tags",
            "title",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(item["title"], "Release 4");
    assert_eq!(item["repository"], "acme/even");
    assert_eq!(item["tags"], json!(["late", "x"]));
    assert_eq!(item["revision"], 1);

    let list = |query: &str| titles(s, &carol, query.to_owned());
    let (all, cursor) = list("").await;
    assert_eq!(
        all,
        [
            "Release 4",
            "Release 3",
            "Release 2",
            "Release 1",
            "Release 0"
        ]
    );
    assert_eq!(cursor, Value::Null);

    let (first, cursor) = list("?limit=2").await;
    assert_eq!(first, ["Release 4", "Release 3"]);
    let cursor = cursor.as_str().expect("a cursor").to_owned();
    let (second, _) = list(&format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second, ["Release 2", "Release 1"]);

    assert_eq!(list("?version=v1.3.0").await.0, ["Release 3"]);
    assert_eq!(list("?tags=early").await.0, ["Release 1", "Release 0"]);
    assert_eq!(list("?tags=late,early&tag_match=any").await.0.len(), 5);
    assert_eq!(list("?tags=late,x&tag_match=all").await.0.len(), 3);
    assert_eq!(
        list("?repository=acme/odd").await.0,
        ["Release 3", "Release 1"]
    );
    assert_eq!(list("?q=flux%20capacitor").await.0, ["Release 3"]);
    assert_eq!(list("?sort=version&order=asc").await.0[0], "Release 0");
    assert_eq!(list("?sort=title&order=asc&limit=1").await.0, ["Release 0"]);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        list(&format!("?since={today}&until={today}")).await.0.len(),
        5
    );
    assert!(list("?until=2000-01-01").await.0.is_empty());

    let get = |query: &str| {
        s.as_user(&carol, Method::GET, &format!("/changelogs{query}"))
            .send()
    };
    invalid(get("?limit=0").await.unwrap(), "limit").await;
    invalid(get("?limit=1000").await.unwrap(), "limit").await;
    invalid(get("?limit=ten").await.unwrap(), "limit").await;
    invalid(get("?sort=owner").await.unwrap(), "sort").await;
    invalid(get("?since=yesterday").await.unwrap(), "since").await;
    invalid(get("?cursor=zz").await.unwrap(), "cursor").await;
    invalid(get("?owner_id=1").await.unwrap(), "owner_id").await;
}

/// The titles of a listing and its next cursor.
async fn titles(s: &Server, user: &User, query: String) -> (Vec<String>, Value) {
    let response = s
        .as_user(user, Method::GET, &format!("/changelogs{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let page: Value = response.json().await.unwrap();
    let titles = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_owned())
        .collect();
    (titles, page["next_cursor"].clone())
}

async fn edits_name_their_revision_and_stale_ones_conflict(s: &Server) {
    let dave = s.user("dave").await;
    let created = s
        .changelog(
            &dave,
            json!({"source": "manual", "title": "First", "content": "one"}),
        )
        .await;
    let path = format!("/changelogs/{}", created["id"].as_str().unwrap());

    let put = s
        .as_user(&dave, Method::PUT, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Second", "content": "two", "tags": ["b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(put.headers()["etag"], "\"2\"");

    // The same base revision again: someone else's edit came first.
    let stale = s
        .as_user(&dave, Method::PUT, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Lost", "content": "lost"}))
        .send()
        .await
        .unwrap();
    error(stale, StatusCode::CONFLICT).await;

    let patch = s
        .as_user(&dave, Method::PATCH, &path)
        .json(&json!({"revision": 2, "title": "Third"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::OK);
    let patched: Value = patch.json().await.unwrap();
    assert_eq!(patched["title"], "Third");
    assert_eq!(patched["content"], "two");
    assert_eq!(patched["tags"], json!(["b"]));
    assert_eq!(patched["revision"], 3);

    let unnamed = s
        .as_user(&dave, Method::PATCH, &path)
        .json(&json!({"title": "No revision"}))
        .send()
        .await
        .unwrap();
    error(unnamed, StatusCode::PRECONDITION_REQUIRED).await;
    invalid(
        s.as_user(&dave, Method::PATCH, &path)
            .json(&json!({"revision": "three"}))
            .send()
            .await
            .unwrap(),
        "revision",
    )
    .await;
    invalid(
        s.as_user(&dave, Method::PATCH, &path)
            .json(&json!({"revision": 3, "title": ""}))
            .send()
            .await
            .unwrap(),
        "title",
    )
    .await;
    invalid(
        s.as_user(&dave, Method::PUT, &path)
            .json(&json!({"revision": 3, "title": "x"}))
            .send()
            .await
            .unwrap(),
        "content",
    )
    .await;

    let deleted = s
        .as_user(&dave, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    error(
        s.as_user(&dave, Method::GET, &path).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    error(
        s.as_user(&dave, Method::DELETE, &path)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn versions_restore_and_tags(s: &Server) {
    let erin = s.user("erin").await;
    let created = s
        .changelog(
            &erin,
            json!({"source": "manual", "title": "v1", "content": "first", "tags": ["a"]}),
        )
        .await;
    let path = format!("/changelogs/{}", created["id"].as_str().unwrap());
    s.as_user(&erin, Method::PATCH, &path)
        .json(&json!({"revision": 1, "content": "second"}))
        .send()
        .await
        .unwrap();

    let versions: Value = s.get_json(&erin, &format!("{path}/versions")).await;
    let contents: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["first", "second"]);

    let restored = s
        .as_user(&erin, Method::POST, &format!("{path}/versions/1/restore"))
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status(), StatusCode::OK);
    let restored: Value = restored.json().await.unwrap();
    assert_eq!(restored["content"], "first");
    assert_eq!(restored["revision"], 3);
    let stale = s
        .as_user(&erin, Method::POST, &format!("{path}/versions/1/restore"))
        .json(&json!({"revision": 2}))
        .send()
        .await
        .unwrap();
    error(stale, StatusCode::CONFLICT).await;
    for missing in ["99", "zero", "0"] {
        let response = s
            .as_user(
                &erin,
                Method::POST,
                &format!("{path}/versions/{missing}/restore"),
            )
            .json(&json!({"revision": 3}))
            .send()
            .await
            .unwrap();
        error(response, StatusCode::NOT_FOUND).await;
    }

    let tagged = s
        .as_user(&erin, Method::PUT, &format!("{path}/tags"))
        .json(&json!({"tags": ["New-Tag", "a"], "revision": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.status(), StatusCode::OK);
    let tagged: Value = tagged.json().await.unwrap();
    assert_eq!(tagged["tags"], json!(["a", "new-tag"]));
    let tags: Value = s.get_json(&erin, "/tags").await;
    assert_eq!(tags, json!(["a", "new-tag"]));
}

async fn annotations_and_export(s: &Server) {
    let fay = s.user("fay").await;
    let created = s
        .changelog(
            &fay,
            json!({"source": "manual", "title": "<b>Bold</b>", "content": "- <script>alert(1)</script> & more"}),
        )
        .await;
    let path = format!("/changelogs/{}", created["id"].as_str().unwrap());

    let note = s
        .as_user(&fay, Method::POST, &format!("{path}/annotations"))
        .json(&json!({"body": "check the wording"}))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), StatusCode::CREATED);
    let note: Value = note.json().await.unwrap();
    let note_path = format!("{path}/annotations/{}", note["id"].as_str().unwrap());
    let edited = s
        .as_user(&fay, Method::PATCH, &note_path)
        .json(&json!({"body": "wording checked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    let notes: Value = s.get_json(&fay, &format!("{path}/annotations")).await;
    assert_eq!(notes[0]["body"], "wording checked");
    invalid(
        s.as_user(&fay, Method::POST, &format!("{path}/annotations"))
            .json(&json!({"body": ""}))
            .send()
            .await
            .unwrap(),
        "body",
    )
    .await;
    let removed = s
        .as_user(&fay, Method::DELETE, &note_path)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    error(
        s.as_user(&fay, Method::DELETE, &note_path)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    let export = |format: &str| {
        s.as_user(&fay, Method::GET, &format!("{path}/export?format={format}"))
            .send()
    };
    let markdown = export("markdown").await.unwrap();
    assert!(
        markdown.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert_eq!(
        markdown.text().await.unwrap(),
        "- <script>alert(1)</script> & more"
    );
    let html = export("html").await.unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = html.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
        "{html}"
    );
    assert!(
        html.contains("<title>&lt;b&gt;Bold&lt;/b&gt;</title>"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    let json_export: Value = export("json").await.unwrap().json().await.unwrap();
    assert_eq!(json_export["title"], "<b>Bold</b>");
    assert!(json_export.get("document").is_some());
    invalid(export("pdf").await.unwrap(), "format").await;
}

async fn another_user_gets_404_for_everything(s: &Server) {
    let owner = s.user("owner").await;
    let other = s.user("other").await;
    let created = s
        .changelog(
            &owner,
            json!({"source": "manual", "title": "Private", "content": "x", "tags": ["secret-tag"]}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/changelogs/{id}");
    let note: Value = s
        .as_user(&owner, Method::POST, &format!("{path}/annotations"))
        .json(&json!({"body": "mine"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let note_path = format!("{path}/annotations/{}", note["id"].as_str().unwrap());

    let attempts = [
        (Method::GET, path.clone(), None),
        (
            Method::PUT,
            path.clone(),
            Some(json!({"title": "t", "content": "c", "revision": 1})),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"title": "t", "revision": 1})),
        ),
        (Method::DELETE, path.clone(), None),
        (Method::GET, format!("{path}/versions"), None),
        (
            Method::POST,
            format!("{path}/versions/1/restore"),
            Some(json!({"revision": 1})),
        ),
        (
            Method::PUT,
            format!("{path}/tags"),
            Some(json!({"tags": ["x"], "revision": 1})),
        ),
        (Method::GET, format!("{path}/export?format=markdown"), None),
        (Method::GET, format!("{path}/annotations"), None),
        (
            Method::POST,
            format!("{path}/annotations"),
            Some(json!({"body": "theirs"})),
        ),
        (
            Method::PATCH,
            note_path.clone(),
            Some(json!({"body": "theirs"})),
        ),
        (Method::DELETE, note_path.clone(), None),
    ];
    for (method, path, body) in attempts {
        let mut request = s.as_user(&other, method.clone(), &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        error(response, StatusCode::NOT_FOUND).await;
    }
    let page: Value = s.get_json(&other, "/changelogs").await;
    assert_eq!(page["items"], json!([]));
    let tags: Value = s.get_json(&other, "/tags").await;
    assert_eq!(tags, json!([]));
    // Untouched for its owner.
    let mine: Value = s.get_json(&owner, &path).await;
    assert_eq!(mine["revision"], 1);
    assert_eq!(mine["title"], "Private");
}

async fn ids_that_are_not_ids_are_404(s: &Server) {
    let gil = s.user("gil").await;
    for id in [
        "42",
        "99999999999999999999999",
        "not-an-id",
        "00000000-0000-0000-0000-000000000000",
    ] {
        for suffix in ["", "/versions", "/export", "/annotations"] {
            let response = s
                .as_user(&gil, Method::GET, &format!("/changelogs/{id}{suffix}"))
                .send()
                .await
                .unwrap();
            error(response, StatusCode::NOT_FOUND).await;
        }
    }
}
