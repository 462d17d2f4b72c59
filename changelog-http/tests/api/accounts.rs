//! Registration, sign-in (JSON and the OAuth2 form), tokens and their refusals, refresh
//! rotation and reuse, sign-out.

use changelog_http::auth::jwt::{AUDIENCE, Claims};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{JWT_SECRET, Server, error, invalid};

crate::suite!(
    register_then_sign_in_with_json_or_the_oauth2_form,
    registration_refuses_bad_input_naming_the_field,
    wrong_passwords_and_unknown_users_are_401,
    bad_tokens_are_401,
    refresh_rotates_and_a_reused_token_revokes_the_sign_in,
    logout_ends_the_sign_in,
);

async fn register_then_sign_in_with_json_or_the_oauth2_form(s: &Server) {
    let alice = s.user("alice").await;
    let me: Value = s.get_json(&alice, "/auth/me").await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert!(me.get("password_hash").is_none(), "{me}");

    // By e-mail address, in JSON.
    let tokens: Value = s
        .api(Method::POST, "/auth/login")
        .json(&json!({"email": "Alice@Example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("clr_")
    );

    // The OAuth2 password form FastAPI clients post.
    let form = s
        .api(Method::POST, "/auth/login")
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let form: Value = form.json().await.unwrap();
    let me = s
        .api(Method::GET, "/auth/me")
        .bearer_auth(form["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // The same name twice is a conflict.
    let again = s
        .api(Method::POST, "/auth/register")
        .json(&json!({"username": "alice", "email": "other@example.com", "password": "another good one"}))
        .send()
        .await
        .unwrap();
    error(again, StatusCode::CONFLICT).await;
}

async fn registration_refuses_bad_input_naming_the_field(s: &Server) {
    let register = |body: Value| s.api(Method::POST, "/auth/register").json(&body).send();
    invalid(
        register(json!({"username": "bob", "email": "bob@example.com"}))
            .await
            .unwrap(),
        "password",
    )
    .await;
    invalid(
        register(json!({"username": "bob", "email": "bob@example.com", "password": "short"}))
            .await
            .unwrap(),
        "password",
    )
    .await;
    invalid(
        register(
            json!({"username": "bob", "email": "bob@example.com", "password": "aaaaaaaaaaaaaa"}),
        )
        .await
        .unwrap(),
        "password",
    )
    .await;
    invalid(
        register(json!({"username": "bob", "email": "not-an-address", "password": "correct horse battery"}))
            .await
            .unwrap(),
        "email",
    )
    .await;
    invalid(
        register(
            json!({"username": 7, "email": "bob@example.com", "password": "correct horse battery"}),
        )
        .await
        .unwrap(),
        "username",
    )
    .await;
    invalid(
        register(json!({"username": "bob", "email": "bob@example.com", "password": "correct horse battery", "is_admin": true}))
            .await
            .unwrap(),
        "is_admin",
    )
    .await;
    let malformed = s
        .api(Method::POST, "/auth/register")
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    error(malformed, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn wrong_passwords_and_unknown_users_are_401(s: &Server) {
    s.user("carol").await;
    for (login, password) in [
        ("carol", "wrong password!"),
        ("nobody", "correct horse battery"),
    ] {
        let response = s
            .api(Method::POST, "/auth/login")
            .json(&json!({"username": login, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer")
        );
        error(response, StatusCode::UNAUTHORIZED).await;
    }
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn sign(claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn bad_tokens_are_401(s: &Server) {
    let dave = s.user("dave").await;
    let now = chrono::Utc::now().timestamp();
    // The sign-in of Dave's own token: forged tokens below name a live sign-in, so that only
    // what is forged decides.
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    let issued = jsonwebtoken::decode::<Claims>(
        &dave.access,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET),
        &validation,
    )
    .expect("the server's own token")
    .claims;
    let valid = Claims {
        sub: dave.id,
        sid: issued.sid,
        aud: AUDIENCE.into(),
        typ: "access".into(),
        iat: now,
        exp: now + 600,
    };
    // Sanity: a token made the server's way is accepted.
    let ok = s
        .api(Method::GET, "/auth/me")
        .bearer_auth(sign(&valid, JWT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // Signed with the right key but naming no sign-in: refused.
    let unknown_session = sign(
        &Claims {
            sid: uuid::Uuid::new_v4(),
            ..valid.clone()
        },
        JWT_SECRET,
    );
    let refused = s
        .api(Method::GET, "/auth/me")
        .bearer_auth(unknown_session)
        .send()
        .await
        .unwrap();
    error(refused, StatusCode::UNAUTHORIZED).await;

    let expired = sign(
        &Claims {
            iat: now - 3600,
            exp: now - 600,
            ..valid.clone()
        },
        JWT_SECRET,
    );
    let other_key = sign(&valid, b"another-secret-another-secret-another");
    let refresh_kind = sign(
        &Claims {
            typ: "refresh".into(),
            ..valid.clone()
        },
        JWT_SECRET,
    );
    let other_audience = sign(
        &Claims {
            aud: "other-service".into(),
            ..valid.clone()
        },
        JWT_SECRET,
    );
    let mut tampered = dave.access.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let payload = serde_json::to_vec(&valid).unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&payload)
    );
    let cases = [
        ("expired", expired),
        ("signed with another key", other_key),
        ("typ refresh", refresh_kind),
        ("another audience", other_audience),
        ("tampered", tampered),
        ("alg none", alg_none),
        ("a refresh token", dave.refresh.clone()),
        ("garbage", "not.a.token".into()),
    ];
    for (what, token) in cases {
        let response = s
            .api(Method::GET, "/auth/me")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        error(response, StatusCode::UNAUTHORIZED).await;
    }
    let none = s.api(Method::GET, "/changelogs").send().await.unwrap();
    error(none, StatusCode::UNAUTHORIZED).await;
}

async fn refresh_rotates_and_a_reused_token_revokes_the_sign_in(s: &Server) {
    let erin = s.user("erin").await;
    let refresh = |token: String| {
        s.api(Method::POST, "/auth/refresh")
            .json(&json!({"refresh_token": token}))
            .send()
    };
    let first = refresh(erin.refresh.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let next = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, erin.refresh);
    let me = s
        .api(Method::GET, "/auth/me")
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // The old token again: refused, and the whole sign-in is revoked with it.
    error(
        refresh(erin.refresh.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    error(refresh(next).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    // So are the access tokens of the revoked sign-in.
    let revoked = s
        .api(Method::GET, "/auth/me")
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    error(revoked, StatusCode::UNAUTHORIZED).await;
    error(
        refresh("clr_unknown".into()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    invalid(
        s.api(Method::POST, "/auth/refresh")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        "refresh_token",
    )
    .await;
}

async fn logout_ends_the_sign_in(s: &Server) {
    let frank = s.user("frank").await;
    let out = s
        .as_user(&frank, Method::POST, "/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let refreshed = s
        .api(Method::POST, "/auth/refresh")
        .json(&json!({"refresh_token": frank.refresh}))
        .send()
        .await
        .unwrap();
    error(refreshed, StatusCode::UNAUTHORIZED).await;
    error(
        s.api(Method::POST, "/auth/logout").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // The access token of the ended sign-in is refused at once, though not yet expired.
    let me = s
        .as_user(&frank, Method::GET, "/auth/me")
        .send()
        .await
        .unwrap();
    let body = error(me, StatusCode::UNAUTHORIZED).await;
    assert!(body["detail"].as_str().unwrap().contains("ended"), "{body}");

    // Signing out everywhere ends the other sign-ins too; a new one works.
    let login = || {
        s.api(Method::POST, "/auth/login")
            .json(&json!({"username": "frank", "password": "correct horse battery"}))
            .send()
    };
    let first: Value = login().await.unwrap().json().await.unwrap();
    let second: Value = login().await.unwrap().json().await.unwrap();
    let access = |tokens: &Value| tokens["access_token"].as_str().unwrap().to_owned();
    let me_with = |token: String| s.api(Method::GET, "/auth/me").bearer_auth(token).send();
    assert_eq!(
        me_with(access(&second)).await.unwrap().status(),
        StatusCode::OK
    );
    let everywhere = s
        .api(Method::POST, "/auth/logout")
        .bearer_auth(access(&first))
        .json(&json!({"everywhere": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(everywhere.status(), StatusCode::NO_CONTENT);
    error(
        me_with(access(&second)).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let third: Value = login().await.unwrap().json().await.unwrap();
    assert_eq!(
        me_with(access(&third)).await.unwrap().status(),
        StatusCode::OK
    );
}
