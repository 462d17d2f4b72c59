//! The limits of `changelog_core::store::limits`, on every backend: each at its edge and just
//! past it, NUL refused in every text field, and searches bounded in length and words.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use changelog_core::store::limits::{
    MAX_ANNOTATION_LEN, MAX_COMMIT_RANGE_LEN, MAX_CONTENT_LEN, MAX_MODEL_LEN, MAX_QUERY_TAGS,
    MAX_REPOSITORY_LEN, MAX_SEARCH_LEN, MAX_SEARCH_TERMS, MAX_TAG_LEN, MAX_TAGS_PER_CHANGELOG,
    MAX_TITLE_LEN, MAX_VERSION_LEN,
};
use changelog_core::store::{
    ChangelogQuery, ChangelogUpdate, NewApiKey, NewChangelog, NewRepository, NewUser,
    RepositoryProvider, StoreError, StoreResult,
};
use changelog_core::{Changelog, Stats, Style};

use super::{Harness, all_ids, changelog, user};

suite!(
    every_text_field_holds_its_limit_and_refuses_one_more_character,
    tags_per_changelog_and_per_query_are_bounded,
    nul_is_refused_in_every_text_field,
    searches_are_bounded_in_length_and_words,
);

/// `n` characters of four bytes each that do not repeat in any pattern a compressor could use
/// (CJK Extension B, stepped by a large odd number), so the widest text a limit allows reaches
/// the database at its widest.
fn wide_text(n: usize) -> String {
    (0..n)
        .map(|i| {
            let offset = u32::try_from(i * 7_919 % 42_000).expect("small");
            char::from_u32(0x2_0000 + offset).expect("a CJK character")
        })
        .collect()
}

/// Asserts that `outcome` is an invalid-input error about `field` whose message names `limit`.
fn refused<T: std::fmt::Debug>(outcome: StoreResult<T>, field: &str, limit: &str) -> Result<()> {
    match outcome {
        Err(error @ StoreError::Invalid { what, .. }) => {
            let message = error.to_string();
            ensure!(
                what == field,
                "refused as `{what}`, not `{field}`: {message}"
            );
            ensure!(
                message.contains(limit),
                "the message does not name `{limit}`: {message}"
            );
            Ok(())
        }
        other => bail!("expected {field} to be refused, got {other:?}"),
    }
}

async fn count(h: &Harness) -> Result<usize> {
    Ok(all_ids(h, &ChangelogQuery::default()).await?.len())
}

async fn every_text_field_holds_its_limit_and_refuses_one_more_character(
    h: &Harness,
) -> Result<()> {
    let alice = user(h, "alice").await?;
    type Set = fn(&mut NewChangelog, String);
    let fields: [(&str, usize, Set); 6] = [
        ("title", MAX_TITLE_LEN, |c, v| c.title = v),
        ("version", MAX_VERSION_LEN, |c, v| c.version = Some(v)),
        ("content", MAX_CONTENT_LEN, |c, v| c.content = v),
        ("repository", MAX_REPOSITORY_LEN, |c, v| {
            c.repository = Some(v);
        }),
        ("commit range", MAX_COMMIT_RANGE_LEN, |c, v| {
            c.commit_range = Some(v);
        }),
        ("model", MAX_MODEL_LEN, |c, v| c.model = Some(v)),
    ];
    for (field, max, set) in fields {
        let mut at_limit = changelog(alice.id, "at the limit");
        set(&mut at_limit, wide_text(max));
        let stored = h
            .store
            .create_changelog(&at_limit)
            .await
            .with_context(|| format!("{field} of {max} characters"))?;
        let read = h.store.changelog(stored.id).await?;
        ensure!(read == stored, "{field}: stored and read back differ");

        let mut past = changelog(alice.id, "past the limit");
        set(&mut past, wide_text(max + 1));
        refused(
            h.store.create_changelog(&past).await,
            field,
            &max.to_string(),
        )?;
    }
    ensure!(
        count(h).await? == 6,
        "only the changelogs at the limits are stored"
    );

    // Updates hold the same limits.
    let record = h
        .store
        .changelog(all_ids(h, &ChangelogQuery::default()).await?[0])
        .await?;
    let mut revision = record.revision;
    type Update = fn(String) -> ChangelogUpdate;
    let updates: [(&str, usize, Update); 3] = [
        ("title", MAX_TITLE_LEN, |v| ChangelogUpdate {
            title: Some(v),
            ..ChangelogUpdate::default()
        }),
        ("version", MAX_VERSION_LEN, |v| ChangelogUpdate {
            version: Some(Some(v)),
            ..ChangelogUpdate::default()
        }),
        ("content", MAX_CONTENT_LEN, |v| ChangelogUpdate {
            content: Some(v),
            ..ChangelogUpdate::default()
        }),
    ];
    for (field, max, update) in updates {
        revision = h
            .store
            .update_changelog(record.id, revision, &update(wide_text(max)), None)
            .await
            .with_context(|| format!("update of {field} to {max} characters"))?
            .revision;
        refused(
            h.store
                .update_changelog(record.id, revision, &update(wide_text(max + 1)), None)
                .await,
            field,
            &max.to_string(),
        )?;
    }
    ensure!(h.store.changelog(record.id).await?.revision == revision);

    // Annotations.
    h.store
        .add_annotation(record.id, alice.id, &wide_text(MAX_ANNOTATION_LEN))
        .await
        .context("annotation at the limit")?;
    refused(
        h.store
            .add_annotation(record.id, alice.id, &wide_text(MAX_ANNOTATION_LEN + 1))
            .await,
        "annotation",
        &MAX_ANNOTATION_LEN.to_string(),
    )?;
    Ok(())
}

async fn tags_per_changelog_and_per_query_are_bounded(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let tags = |n: usize| (0..n).map(|i| format!("tag-{i}")).collect::<Vec<_>>();

    let mut most = changelog(alice.id, "most tags");
    most.tags = tags(MAX_TAGS_PER_CHANGELOG);
    // Duplicates and case variants count once.
    most.tags.push("TAG-0".into());
    let record = h.store.create_changelog(&most).await?;
    ensure!(record.tags.len() == MAX_TAGS_PER_CHANGELOG);

    let mut too_many = changelog(alice.id, "too many tags");
    too_many.tags = tags(MAX_TAGS_PER_CHANGELOG + 1);
    refused(
        h.store.create_changelog(&too_many).await,
        "tags",
        &MAX_TAGS_PER_CHANGELOG.to_string(),
    )?;
    let update = ChangelogUpdate {
        tags: Some(tags(MAX_TAGS_PER_CHANGELOG + 1)),
        ..ChangelogUpdate::default()
    };
    refused(
        h.store.update_changelog(record.id, 1, &update, None).await,
        "tags",
        &MAX_TAGS_PER_CHANGELOG.to_string(),
    )?;

    let mut long_tag = changelog(alice.id, "long tag");
    long_tag.tags = vec!["t".repeat(MAX_TAG_LEN)];
    h.store.create_changelog(&long_tag).await?;
    long_tag.tags = vec!["t".repeat(MAX_TAG_LEN + 1)];
    refused(
        h.store.create_changelog(&long_tag).await,
        "tag",
        &MAX_TAG_LEN.to_string(),
    )?;

    let query = |n: usize| ChangelogQuery {
        tags: tags(n),
        ..ChangelogQuery::default()
    };
    let found = all_ids(h, &query(MAX_QUERY_TAGS)).await?;
    ensure!(
        found == [record.id],
        "a query with the most tags still filters"
    );
    refused(
        h.store.list_changelogs(&query(MAX_QUERY_TAGS + 1)).await,
        "tag filter",
        &MAX_QUERY_TAGS.to_string(),
    )?;
    ensure!(count(h).await? == 2);
    Ok(())
}

pub(crate) fn document_with(title: &str) -> Changelog {
    Changelog {
        title: title.into(),
        version: None,
        date: None,
        range: None,
        repository: None,
        links: None,
        style: Style::default(),
        sections: Vec::new(),
        hidden: Vec::new(),
        stats: Stats::default(),
        model: None,
        usage: None,
        verification: None,
    }
}

async fn nul_is_refused_in_every_text_field(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    const NUL: &str = "a\0b";
    type Set = fn(&mut NewChangelog);
    let fields: [(&str, Set); 8] = [
        ("title", |c| c.title = NUL.into()),
        ("version", |c| c.version = Some(NUL.into())),
        ("content", |c| c.content = NUL.into()),
        ("repository", |c| c.repository = Some(NUL.into())),
        ("commit range", |c| c.commit_range = Some(NUL.into())),
        ("model", |c| c.model = Some(NUL.into())),
        ("tags", |c| c.tags = vec!["ok".into(), NUL.into()]),
        ("document", |c| c.document = Some(document_with(NUL))),
    ];
    for (field, set) in fields {
        let mut new = changelog(alice.id, "with a NUL");
        set(&mut new);
        refused(h.store.create_changelog(&new).await, field, "NUL")?;
    }
    ensure!(count(h).await? == 0, "nothing with a NUL is stored");

    // Text that spells the escape (a backslash, then `u0000`) is no NUL, in any field; and a
    // NUL after an escaped backslash is still one.
    let spelled = r"parses \u0000 and \\u0000 in JSON strings";
    let mut new = changelog(alice.id, spelled);
    new.content = spelled.into();
    new.document = Some(document_with(spelled));
    let kept = h.store.create_changelog(&new).await?;
    ensure!(
        kept.document == new.document,
        "the document is kept as written"
    );
    h.store.delete_changelog(kept.id).await?;
    let mut new = changelog(alice.id, "escaped backslash, then a NUL");
    new.document = Some(document_with("\\\0"));
    refused(h.store.create_changelog(&new).await, "document", "NUL")?;
    ensure!(count(h).await? == 0, "nothing with a NUL is stored");

    let record = h
        .store
        .create_changelog(&changelog(alice.id, "clean"))
        .await?;
    let updates = [
        (
            "title",
            ChangelogUpdate {
                title: Some(NUL.into()),
                ..ChangelogUpdate::default()
            },
        ),
        (
            "version",
            ChangelogUpdate {
                version: Some(Some(NUL.into())),
                ..ChangelogUpdate::default()
            },
        ),
        (
            "content",
            ChangelogUpdate {
                content: Some(NUL.into()),
                ..ChangelogUpdate::default()
            },
        ),
        (
            "tags",
            ChangelogUpdate {
                tags: Some(vec![NUL.into()]),
                ..ChangelogUpdate::default()
            },
        ),
        (
            "document",
            ChangelogUpdate {
                document: Some(Some(document_with(NUL))),
                ..ChangelogUpdate::default()
            },
        ),
    ];
    for (field, update) in updates {
        refused(
            h.store.update_changelog(record.id, 1, &update, None).await,
            field,
            "NUL",
        )?;
    }
    ensure!(h.store.changelog(record.id).await? == record);

    refused(
        h.store.add_annotation(record.id, alice.id, NUL).await,
        "annotation",
        "NUL",
    )?;

    type Filter = fn(&mut ChangelogQuery);
    let filters: [(&str, Filter); 4] = [
        ("search text", |q| q.text = Some(NUL.into())),
        ("version", |q| q.version = Some(NUL.into())),
        ("repository", |q| q.repository = Some(NUL.into())),
        ("tag filter", |q| q.tags = vec![NUL.into()]),
    ];
    for (field, filter) in filters {
        let mut query = ChangelogQuery::default();
        filter(&mut query);
        refused(h.store.list_changelogs(&query).await, field, "NUL")?;
    }

    for (field, new) in [
        (
            "username",
            NewUser {
                username: NUL.into(),
                email: "nul@example.com".into(),
                ..NewUser::default()
            },
        ),
        (
            "email",
            NewUser {
                username: "nul".into(),
                email: NUL.into(),
                ..NewUser::default()
            },
        ),
    ] {
        refused(h.store.create_user(&new).await, field, "NUL")?;
    }
    refused(
        h.store
            .create_api_key(&NewApiKey {
                user_id: alice.id,
                name: NUL.into(),
                ..NewApiKey::default()
            })
            .await,
        "API key name",
        "NUL",
    )?;
    refused(
        h.store
            .upsert_repository(&NewRepository {
                owner_id: alice.id,
                provider: RepositoryProvider::Github,
                external_id: None,
                name: "changelog".into(),
                full_name: "acme/changelog".into(),
                url: format!("https://github.com/acme/{NUL}"),
                default_branch: None,
            })
            .await,
        "repository url",
        "NUL",
    )?;
    Ok(())
}

async fn searches_are_bounded_in_length_and_words(h: &Harness) -> Result<()> {
    let alice = user(h, "alice").await?;
    let words: Vec<String> = (0..MAX_SEARCH_TERMS).map(|i| format!("w{i}")).collect();
    let mut new = changelog(alice.id, "every word");
    new.content = words.join(" ");
    let record = h.store.create_changelog(&new).await?;
    let search = |text: String| ChangelogQuery {
        text: Some(text),
        ..ChangelogQuery::default()
    };

    let found = all_ids(h, &search(words.join(" "))).await?;
    ensure!(
        found == [record.id],
        "the most words a search takes still match"
    );
    let mut more = words.clone();
    more.push("w".into());
    refused(
        h.store.list_changelogs(&search(more.join(" "))).await,
        "search text",
        &MAX_SEARCH_TERMS.to_string(),
    )?;

    // Length: punctuation between the words, so the words stay under their own limit.
    let at_limit = format!("{}{}", "w0", ".".repeat(MAX_SEARCH_LEN - 2));
    let found = all_ids(h, &search(at_limit.clone())).await?;
    ensure!(
        found == [record.id],
        "a search at the longest still matches"
    );
    refused(
        h.store
            .list_changelogs(&search(format!("{at_limit}.")))
            .await,
        "search text",
        &MAX_SEARCH_LEN.to_string(),
    )?;

    // What took minutes is refused at once.
    let huge = (0..200_000)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let started = Instant::now();
    refused(
        h.store.list_changelogs(&search(huge)).await,
        "search text",
        &MAX_SEARCH_LEN.to_string(),
    )?;
    ensure!(
        started.elapsed() < Duration::from_secs(1),
        "refusing a 200,000-word search took {:?}",
        started.elapsed()
    );
    Ok(())
}
