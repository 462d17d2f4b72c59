//! The records around changelogs, on every backend: refresh tokens, repositories,
//! annotations, usage, the audit log and cached answers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use changelog_core::llm::cache::CompletionCache as _;
use changelog_core::llm::{Completion, FinishReason, Usage};
use changelog_core::store::{
    AuditOutcome, AuditQuery, NewAuditEvent, NewRepository, RepositoryProvider, Rotation,
    StoreCache, StoreError, UsageAmount, now,
};
use chrono::NaiveDate;
use uuid::Uuid;

use super::{Backend, Harness, changelog, user};

const DAY: Duration = Duration::from_secs(86_400);

suite!(
    refresh_tokens_rotate_and_a_reused_token_revokes_its_family,
    concurrent_exchanges_of_one_refresh_token_rotate_it_once,
    repositories_are_upserted_per_owner_provider_and_full_name,
    annotations_belong_to_their_changelog,
    usage_adds_up_per_day_under_concurrent_requests,
    audit_events_list_newest_first_with_filters,
    cache_entries_expire_and_back_the_completion_cache,
);

/// One text column of the row with this id, read straight from the table.
async fn raw_text(h: &Harness, sql: &str, id: Uuid) -> Result<String> {
    Ok(match &h.backend {
        Backend::Memory => anyhow::bail!("no table in memory"),
        Backend::Sqlite(store) => {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(store.pool())
                .await?
        }
        Backend::Postgres { store, .. } => {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(store.pool())
                .await?
        }
    })
}

fn rotated(rotation: Rotation) -> Result<changelog_core::store::IssuedRefreshToken> {
    match rotation {
        Rotation::Rotated(next) => Ok(next),
        other => anyhow::bail!("expected a rotation, got {other:?}"),
    }
}

async fn refresh_tokens_rotate_and_a_reused_token_revokes_its_family(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let first = h.store.issue_refresh_token(alice.id, DAY).await?;
    assert!(first.secret.starts_with("clr_"));
    assert_eq!(first.token.user_id, alice.id);
    assert!(first.token.expires_at > now() + chrono::Duration::hours(23));
    if h.is_sql() {
        let stored = raw_text(
            h,
            "SELECT token_hash FROM refresh_tokens WHERE id = $1",
            first.token.id,
        )
        .await?;
        assert_eq!(
            stored,
            changelog_core::store::api_key::hash_key(&first.secret)
        );
        assert!(!stored.contains(&first.secret[4..]));
    }

    // Each exchange gives a successor in the same family.
    let second = rotated(h.store.rotate_refresh_token(&first.secret, DAY).await?)?;
    assert_eq!(second.token.family_id, first.token.family_id);
    assert_ne!(second.secret, first.secret);
    let third = rotated(h.store.rotate_refresh_token(&second.secret, DAY).await?)?;

    // Another sign-in of the same user is a family of its own.
    let other = h.store.issue_refresh_token(alice.id, DAY).await?;
    assert_ne!(other.token.family_id, first.token.family_id);
    assert!(
        h.store.session_live(first.token.family_id).await?,
        "rotated, still live"
    );
    assert!(!h.store.session_live(uuid::Uuid::new_v4()).await?);

    // The first token again: stolen. Its family goes, the live successor with it.
    assert_eq!(
        h.store.rotate_refresh_token(&first.secret, DAY).await?,
        Rotation::Reused {
            user_id: alice.id,
            family_id: first.token.family_id
        }
    );
    assert_eq!(
        h.store.rotate_refresh_token(&third.secret, DAY).await?,
        Rotation::Rejected
    );
    assert!(
        !h.store.session_live(first.token.family_id).await?,
        "reuse ends it"
    );
    assert!(h.store.session_live(other.token.family_id).await?);
    assert_eq!(
        h.store.rotate_refresh_token(&first.secret, DAY).await?,
        Rotation::Rejected,
        "a revoked family stays revoked"
    );
    // The other sign-in is untouched, until the user signs out everywhere.
    let other_next = rotated(h.store.rotate_refresh_token(&other.secret, DAY).await?)?;
    assert_eq!(h.store.revoke_user_refresh_tokens(alice.id).await?, 1);
    assert!(!h.store.session_live(other.token.family_id).await?);
    assert_eq!(
        h.store
            .rotate_refresh_token(&other_next.secret, DAY)
            .await?,
        Rotation::Rejected
    );

    // Sign-out of one family; expired and unknown tokens are refused.
    let bob = user(h, "bob").await?;
    let session = h.store.issue_refresh_token(bob.id, DAY).await?;
    assert_eq!(
        h.store
            .revoke_refresh_family(session.token.family_id)
            .await?,
        1
    );
    assert_eq!(
        h.store.rotate_refresh_token(&session.secret, DAY).await?,
        Rotation::Rejected
    );
    let expired = h.store.issue_refresh_token(bob.id, Duration::ZERO).await?;
    assert_eq!(
        h.store.rotate_refresh_token(&expired.secret, DAY).await?,
        Rotation::Rejected
    );
    assert_eq!(
        h.store.rotate_refresh_token("clr_unknown", DAY).await?,
        Rotation::Rejected
    );
    assert!(matches!(
        h.store.issue_refresh_token(Uuid::new_v4(), DAY).await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    Ok(())
}

async fn concurrent_exchanges_of_one_refresh_token_rotate_it_once(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let token = h.store.issue_refresh_token(alice.id, DAY).await?;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&h.store);
            let secret = token.secret.clone();
            tokio::spawn(async move { store.rotate_refresh_token(&secret, DAY).await })
        })
        .collect();
    let mut successors = Vec::new();
    let mut reuses = 0;
    for task in tasks {
        match task.await?? {
            Rotation::Rotated(next) => successors.push(next),
            Rotation::Reused { .. } => reuses += 1,
            Rotation::Rejected => {}
        }
    }
    ensure!(successors.len() == 1, "{} successors", successors.len());
    ensure!(reuses >= 1, "the other exchanges were not seen as reuse");
    // The reuse revoked the family, the winner's successor included.
    assert_eq!(
        h.store
            .rotate_refresh_token(&successors[0].secret, DAY)
            .await?,
        Rotation::Rejected
    );
    Ok(())
}

fn repository(owner: Uuid, full_name: &str) -> NewRepository {
    NewRepository {
        owner_id: owner,
        provider: RepositoryProvider::Github,
        external_id: Some("1296269".into()),
        name: full_name.rsplit('/').next().unwrap_or(full_name).into(),
        full_name: full_name.into(),
        url: format!("https://github.com/{full_name}"),
        default_branch: Some("main".into()),
    }
}

async fn repositories_are_upserted_per_owner_provider_and_full_name(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let bob = user(h, "bob").await?;
    let added = h
        .store
        .upsert_repository(&repository(alice.id, "acme/widgets"))
        .await?;
    assert_eq!(added.last_synced_at, None);

    // The same repository again refreshes it in place.
    let refreshed = h
        .store
        .upsert_repository(&NewRepository {
            default_branch: Some("trunk".into()),
            ..repository(alice.id, "acme/widgets")
        })
        .await?;
    assert_eq!(refreshed.id, added.id);
    assert_eq!(refreshed.created_at, added.created_at);
    assert_eq!(refreshed.default_branch.as_deref(), Some("trunk"));

    // Another provider, another owner, another name: other repositories.
    let gitlab = h
        .store
        .upsert_repository(&NewRepository {
            provider: RepositoryProvider::Gitlab,
            url: "https://gitlab.com/acme/widgets".into(),
            ..repository(alice.id, "acme/widgets")
        })
        .await?;
    let local = h
        .store
        .upsert_repository(&NewRepository {
            provider: RepositoryProvider::AzureDevops,
            ..repository(alice.id, "acme/anvils")
        })
        .await?;
    let bobs = h
        .store
        .upsert_repository(&repository(bob.id, "acme/widgets"))
        .await?;
    assert_ne!(gitlab.id, added.id);
    assert_ne!(bobs.id, added.id);

    let listed: Vec<Uuid> = h
        .store
        .repositories(alice.id)
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, [local.id, added.id, gitlab.id]);

    let at = now() - chrono::Duration::minutes(5);
    let synced = h.store.mark_repository_synced(added.id, at).await?;
    assert_eq!(synced.last_synced_at, Some(at));
    assert_eq!(h.store.repository(added.id).await?, synced);

    h.store.delete_repository(added.id).await?;
    assert!(matches!(
        h.store.repository(added.id).await,
        Err(StoreError::NotFound {
            entity: "repository",
            ..
        })
    ));
    assert!(matches!(
        h.store.delete_repository(added.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        h.store
            .upsert_repository(&repository(Uuid::new_v4(), "acme/x"))
            .await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    Ok(())
}

async fn annotations_belong_to_their_changelog(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let bob = user(h, "bob").await?;
    let record = h
        .store
        .create_changelog(&changelog(alice.id, "v1.0.0"))
        .await?;
    let other = h
        .store
        .create_changelog(&changelog(alice.id, "v1.1.0"))
        .await?;
    let first = h
        .store
        .add_annotation(record.id, alice.id, "Ship on Monday.")
        .await?;
    let second = h
        .store
        .add_annotation(record.id, bob.id, "Mention the **migration**.")
        .await?;
    h.store
        .add_annotation(other.id, bob.id, "Elsewhere.")
        .await?;

    let notes = h.store.annotations(record.id).await?;
    assert_eq!(
        notes.iter().map(|a| a.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    assert_eq!(notes[1].user_id, bob.id);

    let edited = h
        .store
        .edit_annotation(first.id, "Ship on Tuesday.")
        .await?;
    assert_eq!(edited.body, "Ship on Tuesday.");
    assert!(edited.updated_at >= first.updated_at);
    // Annotations are beside the changelog, not part of its revisions.
    assert_eq!(h.store.changelog(record.id).await?.revision, 1);

    for (body, expected) in [("   ", "empty"), (&*"x".repeat(10_001), "10001")] {
        match h.store.add_annotation(record.id, alice.id, body).await {
            Err(StoreError::Invalid { reason, .. }) => assert!(reason.contains(expected)),
            other => anyhow::bail!("expected invalid input, got {other:?}"),
        }
    }
    assert!(matches!(
        h.store
            .add_annotation(Uuid::new_v4(), alice.id, "lost")
            .await,
        Err(StoreError::NotFound {
            entity: "changelog",
            ..
        })
    ));
    assert!(matches!(
        h.store
            .add_annotation(record.id, Uuid::new_v4(), "who?")
            .await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));

    h.store.delete_annotation(second.id).await?;
    assert_eq!(h.store.annotations(record.id).await?.len(), 1);
    assert!(matches!(
        h.store.edit_annotation(second.id, "again").await,
        Err(StoreError::NotFound { .. })
    ));
    // Deleting the changelog deletes its notes.
    h.store.delete_changelog(record.id).await?;
    assert!(h.store.annotations(record.id).await?.is_empty());
    assert_eq!(h.store.annotations(other.id).await?.len(), 1);
    Ok(())
}

async fn usage_adds_up_per_day_under_concurrent_requests(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let bob = user(h, "bob").await?;
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).context("date");
    let one = UsageAmount {
        requests: 1,
        input_tokens: 1_000,
        output_tokens: 200,
        cost_usd: 0.25,
    };
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&h.store);
            let (who, d) = if i % 5 == 0 {
                (bob.id, day(24))
            } else {
                (alice.id, day(23 + i % 2))
            };
            tokio::spawn(async move { store.record_usage(who, d?, &one).await.map_err(Into::into) })
        })
        .collect::<Vec<tokio::task::JoinHandle<Result<_>>>>();
    for task in tasks {
        task.await??;
    }
    let days = h.store.usage(alice.id, day(1)?, day(30)?).await?;
    assert_eq!(
        days.iter()
            .map(|d| (d.day, d.amount.requests))
            .collect::<Vec<_>>(),
        [(day(23)?, 20), (day(24)?, 20)]
    );
    assert_eq!(days[0].amount.input_tokens, 20_000);
    assert_eq!(days[0].amount.output_tokens, 4_000);
    assert!((days[0].amount.cost_usd - 5.0).abs() < 1e-9);

    let total = h.store.usage_total(alice.id, day(23)?, day(24)?).await?;
    assert_eq!(total.requests, 40);
    assert_eq!(
        h.store
            .usage_total(bob.id, day(24)?, day(24)?)
            .await?
            .requests,
        10
    );
    assert_eq!(
        h.store
            .usage_total(alice.id, day(24)?, day(24)?)
            .await?
            .requests,
        20
    );
    assert!(
        h.store
            .usage(alice.id, day(25)?, day(30)?)
            .await?
            .is_empty()
    );
    assert!(
        h.store
            .usage(alice.id, day(24)?, day(23)?)
            .await?
            .is_empty()
    );

    let recorded = h.store.record_usage(alice.id, day(23)?, &one).await?;
    assert_eq!(recorded.amount.requests, 21);
    assert!(matches!(
        h.store.record_usage(Uuid::new_v4(), day(23)?, &one).await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    Ok(())
}

async fn audit_events_list_newest_first_with_filters(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let ip: IpAddr = "2001:db8::7".parse()?;
    let mut recorded = Vec::new();
    for i in 0..7 {
        let event = NewAuditEvent {
            actor_id: (i % 2 == 0).then_some(alice.id),
            action: if i < 4 {
                "changelog.update"
            } else {
                "auth.login"
            }
            .into(),
            target: Some(format!("changelog:{}", i % 3)),
            outcome: if i == 5 {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Success
            },
            ip: Some(if i == 0 { ip } else { "192.0.2.1".parse()? }),
            user_agent: Some(if i == 0 {
                "é".repeat(600)
            } else {
                "curl/8".into()
            }),
        };
        recorded.push(h.store.record_audit(&event).await?);
        // Distinct times, so that the order is the order of recording.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(recorded[0].ip, Some(ip));
    assert_eq!(
        recorded[0].user_agent.as_deref().map(|a| a.chars().count()),
        Some(512)
    );
    assert_eq!(recorded[5].outcome, AuditOutcome::Denied);

    // Every event, 3 per page, newest first.
    let mut query = AuditQuery {
        limit: 3,
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = h.store.audit_events(&query).await?;
        ensure!(page.items.len() <= 3);
        seen.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<_> = recorded.iter().rev().cloned().collect();
    assert_eq!(seen, expected);

    let ids = |page: changelog_core::store::Page<changelog_core::store::AuditEvent>| {
        page.items.iter().map(|e| e.id).collect::<Vec<_>>()
    };
    let by_actor = h
        .store
        .audit_events(&AuditQuery {
            actor_id: Some(alice.id),
            action: Some("changelog.update".into()),
            ..AuditQuery::default()
        })
        .await?;
    assert_eq!(ids(by_actor), [recorded[2].id, recorded[0].id]);
    let by_target = h
        .store
        .audit_events(&AuditQuery {
            target: Some("changelog:1".into()),
            ..AuditQuery::default()
        })
        .await?;
    assert_eq!(ids(by_target), [recorded[4].id, recorded[1].id]);
    let window = h
        .store
        .audit_events(&AuditQuery {
            since: Some(recorded[2].at),
            until: Some(recorded[5].at),
            ..AuditQuery::default()
        })
        .await?;
    assert_eq!(
        ids(window),
        [recorded[4].id, recorded[3].id, recorded[2].id]
    );

    assert!(matches!(
        h.store
            .audit_events(&AuditQuery {
                cursor: Some("garbage".into()),
                ..AuditQuery::default()
            })
            .await,
        Err(StoreError::Invalid { what: "cursor", .. })
    ));
    assert!(matches!(
        h.store
            .record_audit(&NewAuditEvent {
                actor_id: None,
                action: " ".into(),
                target: None,
                outcome: AuditOutcome::Failure,
                ip: None,
                user_agent: None,
            })
            .await,
        Err(StoreError::Invalid { .. })
    ));
    Ok(())
}

async fn cache_entries_expire_and_back_the_completion_cache(h: &Harness) -> Result<()> {
    let value = serde_json::json!({ "text": "- feat: x [abc1234]", "n": 1 });
    let at = now();
    h.store.put_cache_entry("k1", &value, None).await?;
    h.store
        .put_cache_entry("k2", &value, Some(at + chrono::Duration::hours(1)))
        .await?;
    h.store
        .put_cache_entry("k3", &value, Some(at - chrono::Duration::seconds(1)))
        .await?;
    assert_eq!(h.store.cache_entry("k1", at).await?, Some(value.clone()));
    assert_eq!(h.store.cache_entry("k2", at).await?, Some(value.clone()));
    assert_eq!(h.store.cache_entry("k3", at).await?, None, "expired");
    assert_eq!(h.store.cache_entry("nope", at).await?, None);
    // Two hours on, k2 has expired too; purging removes both.
    let later = at + chrono::Duration::hours(2);
    assert_eq!(h.store.cache_entry("k2", later).await?, None);
    assert_eq!(h.store.purge_cache_entries(later).await?, 2);
    assert_eq!(h.store.cache_entry("k1", later).await?, Some(value.clone()));

    // Replacing a value.
    let newer = serde_json::json!(["replaced"]);
    h.store.put_cache_entry("k1", &newer, None).await?;
    assert_eq!(h.store.cache_entry("k1", at).await?, Some(newer));

    // As the core's completion cache.
    let cache = StoreCache::new(h.store.clone(), Some(DAY));
    let completion = Completion {
        text: "## Features\n- Add x [abc1234]".into(),
        usage: Usage {
            input_tokens: 120,
            output_tokens: 14,
        },
        model: "gpt-4o-mini".into(),
        finish_reason: FinishReason::Stop,
        cached: false,
    };
    assert_eq!(cache.get("request-key").await, None);
    cache.put("request-key", &completion).await;
    assert_eq!(cache.get("request-key").await, Some(completion));
    Ok(())
}
